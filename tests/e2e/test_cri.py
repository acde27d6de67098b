"""The kubelet's path through containerd 1.6's CRI plugin: a private containerd
whose runtime handler "gocrate" runs the OCI runtime binary gocrate-runtime
(beside the gocrate binary; GOCRATE_RUNTIME overrides it, e.g. /usr/sbin/runc)
through the io.containerd.runc.v2 shim, driven over CRI v1 gRPC with a client
generated from the Kubernetes CRI API at test time, with a pause image and a
workload image that gocrate built."""

import os
import shutil
import subprocess
import sys

SYSTEM_PYTHON = "/usr/bin/python3"

try:
    import grpc  # noqa: F401
    import grpc_tools  # noqa: F401
except ImportError:
    # Debian's python3-grpcio and python3-grpc-tools are importable by Debian's
    # interpreter only, which may not be the one CMake found.
    if os.path.realpath(sys.executable) != os.path.realpath(SYSTEM_PYTHON) and os.access(SYSTEM_PYTHON, os.X_OK) \
            and subprocess.run([SYSTEM_PYTHON, "-c", "import grpc, grpc_tools"], capture_output=True).returncode == 0:
        os.execv(SYSTEM_PYTHON, [SYSTEM_PYTHON, "-u", *sys.argv])

import base64  # noqa: E402
import contextlib  # noqa: E402
import importlib  # noqa: E402
import json  # noqa: E402
import signal  # noqa: E402
import time  # noqa: E402
import urllib.request  # noqa: E402

from harness import (GOCRATE, SOURCE_DIR, Failure, Skip, build_program, check, free_port, main, oci_runtime, require,  # noqa: E402
                     run, stop_daemon, wait_for)

CRI_PROTO = os.path.join(SOURCE_DIR, "..", "shared", "peers", "cri-api", "api.proto")
HANDLER = "gocrate"
NAMESPACE = "k8s.io"
PAUSE_IMAGE = "localhost/gocrate-cri-pause:test"
WORKLOAD_IMAGE = "localhost/gocrate-cri-workload:test"

PAUSE_SOURCE = """package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	<-stop
}
"""

# Serves GREETING on 127.0.0.1:$PORT and exits 7 on SIGTERM; with the argument
# "probe" it reports its user and exits 3, for ExecSync.
WORKLOAD_SOURCE = """package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "probe" {
		fmt.Printf("probe uid=%d greeting=%s\\n", os.Getuid(), os.Getenv("GREETING"))
		os.Exit(3)
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM)
	listener, err := net.Listen("tcp", "127.0.0.1:"+os.Getenv("PORT"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println("workload serving on", listener.Addr())
	go http.Serve(listener, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, os.Getenv("GREETING"))
	}))
	<-stop
	fmt.Println("workload stopping")
	os.Exit(7)
}
"""



def cri_client(work):
    """The CRI v1 messages and stubs, generated from the CRI API into `work`."""
    try:
        import grpc
        import grpc_tools  # noqa: F401
    except ImportError:
        raise Skip("Python gRPC is not installed (Debian packages python3-grpcio python3-grpc-tools "
                   "protobuf-compiler; scripts/install-deps.sh installs them)")
    if not os.path.isfile(CRI_PROTO):
        raise Skip(f"the CRI API {os.path.abspath(CRI_PROTO)} is missing (shared/peers beside the clone)")
    out = os.path.join(work, "cri")
    os.makedirs(out)
    run([sys.executable, "-m", "grpc_tools.protoc", "-I", os.path.dirname(os.path.abspath(CRI_PROTO)),
         f"--python_out={out}", f"--grpc_python_out={out}", "api.proto"])
    sys.path.insert(0, out)
    try:
        pb = importlib.import_module("api_pb2")
        stubs = importlib.import_module("api_pb2_grpc")
    finally:
        sys.path.remove(out)
    return grpc, pb, stubs


def containerd_config(work, runtime):
    root, state = os.path.join(work, "root"), os.path.join(work, "state")
    cri = 'plugins."io.containerd.grpc.v1.cri"'
    return f"""version = 2
root = "{root}"
state = "{state}"
plugin_dir = ""
disabled_plugins = ["io.containerd.internal.v1.opt", "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.tracing.processor.v1.otlp"]

[grpc]
  address = "{work}/containerd.sock"
[ttrpc]
  address = "{work}/containerd.sock.ttrpc"
[debug]
  address = "{work}/debug.sock"
  level = "info"
[metrics]
  address = ""

[{cri}]
  sandbox_image = "{PAUSE_IMAGE}"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  disable_apparmor = true
  enable_selinux = false
  restrict_oom_score_adj = true
  [{cri}.containerd]
    snapshotter = "native"
    default_runtime_name = "{HANDLER}"
    [{cri}.containerd.runtimes.{HANDLER}]
      runtime_type = "io.containerd.runc.v2"
      [{cri}.containerd.runtimes.{HANDLER}.options]
        BinaryName = "{runtime}"
        Root = "{work}/runtime-root"
        SystemdCgroup = false
  [{cri}.cni]
    bin_dir = "{work}/cni-bin"
    conf_dir = "{work}/cni-conf"
"""


def our_processes(socket_path):
    """Pids of the shims serving this containerd (their command line names its socket)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            argv = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")
        except OSError:
            continue
        if socket_path.encode() in argv and argv[0].endswith(b"containerd-shim-runc-v2"):
            found.append(int(pid))
    return found


def remove_cgroups(parent):
    """rmdir `parent` (and what is left under it) in every cgroup hierarchy."""
    for line in open("/proc/self/mountinfo"):
        fields = line.split(" - ")
        if len(fields) == 2 and fields[1].startswith("cgroup"):
            top = os.path.join(line.split()[4], parent.lstrip("/"))
            for dirpath, _, _ in sorted(os.walk(top), key=lambda w: -len(w[0])) if os.path.isdir(top) else []:
                with contextlib.suppress(OSError):
                    os.rmdir(dirpath)


@contextlib.contextmanager
def containerd(work, runtime):
    """A private containerd with the CRI plugin, in its own mount namespace whose
    /run is a tmpfs: the runc v2 shim of containerd 1.6 puts its sockets in
    /run/containerd/s whatever the state directory, and the host's stays untouched."""
    require("containerd", "containerd")
    require("ctr", "containerd")
    require("containerd-shim-runc-v2", "containerd")
    require("unshare", "util-linux")
    for d in ("cni-bin", "cni-conf", "runtime-root"):
        os.makedirs(os.path.join(work, d))
    config = os.path.join(work, "config.toml")
    open(config, "w").write(containerd_config(work, runtime))
    socket_path = os.path.join(work, "containerd.sock")
    log_path = os.path.join(work, "containerd.log")
    log = open(log_path, "w")
    daemon = subprocess.Popen(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c",
         'mount -t tmpfs -o mode=0755 gocrate-cri-run /run && exec containerd --config "$0"', config],
        stdout=log, stderr=subprocess.STDOUT)

    def ctr(*args, **kw):
        return run(["ctr", "--address", socket_path, "--namespace", NAMESPACE, *args], **kw)
    ctr.socket = socket_path
    try:
        def ready():
            if daemon.poll() is not None:
                raise Failure(f"containerd exited at start: {open(log_path).read()[-1500:]}")
            return os.path.exists(socket_path) and ctr("version", check_rc=False).returncode == 0
        wait_for(ready, 60, "containerd")
        yield ctr
    except BaseException:
        print(f"containerd's log ends:\n{open(log_path).read()[-3000:]}", flush=True)
        raise
    finally:
        runtime_root = os.path.join(work, "runtime-root", NAMESPACE)
        listed = run([runtime, "--root", runtime_root, "list", "-q"], check_rc=False)
        for container in listed.stdout.split() if listed.returncode == 0 else []:
            run([runtime, "--root", runtime_root, "delete", "--force", container], check_rc=False)
        for pid in our_processes(socket_path):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        stop_daemon(daemon, log)
        for path in (f"{work}/state", f"{work}/root"):
            subprocess.run(["umount", "-R", path], capture_output=True)


class Cri:
    """The kubelet's side of one containerd: CRI v1 runtime and image services on its socket."""

    def __init__(self, grpc, pb, stubs, socket_path):
        self.grpc, self.pb = grpc, pb
        self.channel = grpc.insecure_channel(f"unix://{socket_path}")
        self.runtime = stubs.RuntimeServiceStub(self.channel)
        self.images = stubs.ImageServiceStub(self.channel)

    def __getattr__(self, method):
        """runtime-service RPC `method`, called with its request's fields."""
        rpc = getattr(self.runtime, method)
        return lambda **fields: rpc(getattr(self.pb, method + "Request")(**fields), timeout=120)

    def close(self):
        """Stops and removes every pod sandbox, as the kubelet does, so that a
        failed test leaves no containers for containerd's shutdown."""
        with contextlib.suppress(self.grpc.RpcError):
            for sandbox in self.ListPodSandbox().items:
                with contextlib.suppress(self.grpc.RpcError):
                    self.StopPodSandbox(pod_sandbox_id=sandbox.id)
                    self.RemovePodSandbox(pod_sandbox_id=sandbox.id)
        self.channel.close()


def cri_log(work, name):
    """Lines of a container's CRI log file (`time stream tag message`)."""
    path = os.path.join(work, "pod-logs", name)
    return [line.split(" ", 3)[3] for line in open(path).read().splitlines()] if os.path.exists(path) else []


def test_kubelet_path_through_containerd_cri(store, work):
    runtime = oci_runtime()
    grpc, pb, stubs = cri_client(work)
    timings = {}

    def timed(what, call, *args, **kw):
        mark = time.monotonic()
        result = call(*args, **kw)
        timings[what] = timings.get(what, 0) + time.monotonic() - mark
        return result

    def build_images():
        build_program(store, work, "cri-pause", PAUSE_SOURCE)
        build_program(store, work, "cri-workload", WORKLOAD_SOURCE)
        store("tag", "cri-pause", PAUSE_IMAGE)
        store("tag", "cri-workload", WORKLOAD_IMAGE)
        store("save", PAUSE_IMAGE, WORKLOAD_IMAGE, "-o", archive)
    archive = os.path.join(work, "images.tar")
    timed("build images", build_images)

    runtime_root = os.path.join(work, "runtime-root", NAMESPACE)

    def runtime_list():
        """What the handler's runtime binary itself lists, by container id: the shim passes it --root Root/namespace."""
        listed = run([runtime, "--root", runtime_root, "list", "--format", "json"])
        return {c["id"]: c["status"] for c in json.loads(listed.stdout or "null") or []}

    cgroup_parent = f"/gocrate-e2e-cri-{os.getpid()}"
    os.makedirs(os.path.join(work, "pod-logs"))
    try:
        mark = time.monotonic()
        with containerd(work, runtime) as ctr:
            timings["containerd ready"] = time.monotonic() - mark
            imported = ctr("images", "import", "--all-platforms", archive)
            names = ctr("images", "ls", "-q").stdout.split()
            check(PAUSE_IMAGE in names and WORKLOAD_IMAGE in names,
                  f"ctr import made {names}, not {PAUSE_IMAGE} and {WORKLOAD_IMAGE}: {imported.stdout}")
            cri = Cri(grpc, pb, stubs, ctr.socket)
            try:
                version = cri.Version(version="v1")
                check(version.runtime_name == "containerd" and version.runtime_api_version == "v1",
                      f"CRI Version answered {version}")
                ready = [c for c in cri.Status().status.conditions if c.type == "RuntimeReady"]
                check(ready and ready[0].status, f"CRI Status is not RuntimeReady: {cri.Status()}")
                found = cri.images.ImageStatus(pb.ImageStatusRequest(image=pb.ImageSpec(image=WORKLOAD_IMAGE)),
                                               timeout=30)
                check(found.image.id.startswith("sha256:"), f"CRI does not see the imported {WORKLOAD_IMAGE}: {found}")

                # As the kubelet asks for a hostNetwork pod: the node's network (so no CNI) and
                # UTS namespace, hence no hostname.
                namespaces = pb.NamespaceOption(network=pb.NODE, pid=pb.CONTAINER, ipc=pb.POD)
                sandbox_config = pb.PodSandboxConfig(
                    metadata=pb.PodSandboxMetadata(name="gocrate-cri", namespace="default", uid=f"uid-{os.getpid()}"),
                    log_directory=os.path.join(work, "pod-logs"),
                    linux=pb.LinuxPodSandboxConfig(cgroup_parent=cgroup_parent,
                                                   security_context=pb.LinuxSandboxSecurityContext(
                                                       namespace_options=namespaces)))
                sandbox = timed("RunPodSandbox", cri.RunPodSandbox, config=sandbox_config,
                                runtime_handler=HANDLER).pod_sandbox_id
                sandbox_status = cri.PodSandboxStatus(pod_sandbox_id=sandbox).status
                check(sandbox_status.state == pb.SANDBOX_READY, f"sandbox is not ready: {sandbox_status}")
                check(sandbox_status.runtime_handler == HANDLER,
                      f"sandbox ran with handler {sandbox_status.runtime_handler!r}, not {HANDLER!r}")
                check(runtime_list().get(sandbox) == "running",
                      f"{runtime} --root {runtime_root} list lacks the running sandbox {sandbox}: {runtime_list()}")

                port = free_port()
                greeting = f"hello from a gocrate image through CRI {os.getpid()}"
                container_config = pb.ContainerConfig(
                    metadata=pb.ContainerMetadata(name="workload"), image=pb.ImageSpec(image=WORKLOAD_IMAGE),
                    envs=[pb.KeyValue(key="PORT", value=str(port)), pb.KeyValue(key="GREETING", value=greeting)],
                    log_path="workload.log",
                    linux=pb.LinuxContainerConfig(
                        security_context=pb.LinuxContainerSecurityContext(namespace_options=namespaces)))
                container = timed("CreateContainer", cri.CreateContainer, pod_sandbox_id=sandbox,
                                  config=container_config, sandbox_config=sandbox_config).container_id
                timed("StartContainer", cri.StartContainer, container_id=container)
                recorded = json.loads(ctr("containers", "info", container).stdout)["Runtime"]
                check(recorded["Name"] == "io.containerd.runc.v2"
                      and runtime.encode() in base64.b64decode(recorded["Options"]["value"]),
                      f"containerd recorded runtime {recorded} for the workload, not the handler's {runtime}")
                running = cri.ContainerStatus(container_id=container).status
                check(running.state == pb.CONTAINER_RUNNING, f"workload is not running: {running}")
                listed = runtime_list()
                check(listed.get(container) == "running" and listed.get(sandbox) == "running",
                      f"{runtime} --root {runtime_root} list lacks the running sandbox {sandbox} "
                      f"or container {container}: {listed}")

                def served():
                    try:
                        return urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5).read().decode()
                    except OSError:
                        return None
                wait_for(lambda: served() is not None, 30, "the workload to serve on the node's network")
                check(served().strip() == greeting, f"workload served {served()!r}, not {greeting!r}")
                wait_for(lambda: any("workload serving on" in line for line in cri_log(work, "workload.log")), 30,
                         "the workload's line in its CRI log")

                executed = timed("ExecSync", cri.ExecSync, container_id=container,
                                 cmd=["/app/cri-workload", "probe"], timeout=60)
                check(executed.exit_code == 3, f"ExecSync exited {executed.exit_code}, not 3: {executed}")
                check(executed.stdout.decode() == f"probe uid=65532 greeting={greeting}\n",
                      f"ExecSync printed {executed.stdout!r} (stderr {executed.stderr!r})")

                timed("StopContainer", cri.StopContainer, container_id=container, timeout=30)
                stopped = cri.ContainerStatus(container_id=container).status
                check(stopped.state == pb.CONTAINER_EXITED and stopped.exit_code == 7,
                      f"after StopContainer the workload is {pb.ContainerState.Name(stopped.state)} "
                      f"with exit code {stopped.exit_code}, not CONTAINER_EXITED with 7 (its SIGTERM code)")
                wait_for(lambda: "workload stopping" in cri_log(work, "workload.log"), 30,
                         "the workload's SIGTERM line in its CRI log")
                check(container not in runtime_list(), f"{runtime} still lists the stopped container {container}")
                timed("RemoveContainer", cri.RemoveContainer, container_id=container)
                timed("StopPodSandbox", cri.StopPodSandbox, pod_sandbox_id=sandbox)
                timed("RemovePodSandbox", cri.RemovePodSandbox, pod_sandbox_id=sandbox)

                containers = cri.ListContainers().containers
                check(len(containers) == 0, f"ListContainers is not empty at the end: {containers}")
                sandboxes = cri.ListPodSandbox().items
                check(len(sandboxes) == 0, f"ListPodSandbox is not empty at the end: {sandboxes}")
                check(runtime_list() == {}, f"{runtime} still lists containers: {runtime_list()}")
                wait_for(lambda: our_processes(ctr.socket) == [], 30, "the shims to exit after RemovePodSandbox")
            finally:
                cri.close()
    finally:
        remove_cgroups(cgroup_parent)
    print(f"  runtime {runtime}: " + ", ".join(f"{k} {v:.2f}s" for k, v in timings.items()), flush=True)


if __name__ == "__main__":
    main(globals())
