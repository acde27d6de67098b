#!/usr/bin/env python3
"""Attacks from inside a container, end to end: one static probe tries to reach
the host's terminal, reopen the host files behind its stdio, catch processes
entering the container while they still hold the host's root, cwd or gocrate's
executable, use added capabilities to remount /proc/sys or write a host sysctl,
make an io_uring; hostile images and containers make /etc/passwd or /etc/group
a FIFO or /dev/zero; volumes try to cover the runtime's own mounts or the store.
Each attack runs as the default user, as root and with added capabilities,
through run, exec and a health check. A failure names what escaped or hung."""

import atexit
import contextlib
import fcntl
import hashlib
import json
import os
import re
import resource
import secrets
import select
import shutil
import signal
import subprocess
import tarfile
import tempfile
import termios
import time
import tty

from harness import GOCRATE, Failure, check, container_cgroups, image_with_layer, main, shared_image, wait_for

ATTACK_SOURCE = r'''
// attack tries to leave its container. Each attempt prints one verdict line:
//
//	BLOCKED <what> <errno>      the attempt failed the way a closed hole fails
//	ESCAPED <what> <detail>     the attempt worked
//	UNFILTERED <what> <errno>   it failed, but not by the filter that must stop it
//	INFO <fact>                 what the test needs to judge the rest
//
// It exits 0 only when nothing escaped and everything was filtered.
package main

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

// amd64 numbers that Go 1.19's syscall package lacks.
const (
	sysNameToHandleAt = 303
	sysOpenByHandleAt = 304
	sysIoUringSetup   = 425
	tiocsti           = 0x5412
	tioclinux         = 0x541C
	ptraceSeize       = 0x4206
	ptraceInterrupt   = 0x4207
	mntDetach         = 2
)

var errnoNames = map[syscall.Errno]string{
	syscall.EPERM: "EPERM", syscall.ENOENT: "ENOENT", syscall.ESRCH: "ESRCH", syscall.EIO: "EIO",
	syscall.ENXIO: "ENXIO", syscall.EBADF: "EBADF", syscall.EAGAIN: "EAGAIN", syscall.EACCES: "EACCES",
	syscall.EBUSY: "EBUSY", syscall.EEXIST: "EEXIST", syscall.ENODEV: "ENODEV", syscall.ENOTDIR: "ENOTDIR",
	syscall.EISDIR: "EISDIR", syscall.EINVAL: "EINVAL", syscall.ENOTTY: "ENOTTY", syscall.ETXTBSY: "ETXTBSY",
	syscall.EROFS: "EROFS", syscall.ENOSYS: "ENOSYS", syscall.ESTALE: "ESTALE", syscall.EOPNOTSUPP: "EOPNOTSUPP",
	syscall.ELOOP: "ELOOP", syscall.ENOMEM: "ENOMEM", syscall.EFAULT: "EFAULT", syscall.ENOSPC: "ENOSPC",
}

func errName(err error) string {
	switch e := err.(type) {
	case nil:
		return "ok"
	case syscall.Errno:
		if e == 0 {
			return "ok"
		}
		if n, ok := errnoNames[e]; ok {
			return n
		}
		return fmt.Sprintf("errno%d", int(e))
	case *os.PathError:
		return errName(e.Err)
	case *os.SyscallError:
		return errName(e.Err)
	case *os.LinkError:
		return errName(e.Err)
	}
	return strings.ReplaceAll(err.Error(), " ", "_")
}

func errnoOf(e syscall.Errno) error {
	if e == 0 {
		return nil
	}
	return e
}

var failed bool

var fdcwd = -100 // AT_FDCWD

func blocked(what string, err error) { fmt.Printf("BLOCKED %s %s\n", what, errName(err)) }

func escaped(what, detail string) {
	failed = true
	fmt.Printf("ESCAPED %s %s\n", what, detail)
}

func unfiltered(what string, err error) {
	failed = true
	fmt.Printf("UNFILTERED %s %s\n", what, errName(err))
}

func info(format string, a ...interface{}) { fmt.Printf("INFO "+format+"\n", a...) }

func finish() {
	if failed {
		os.Exit(1)
	}
	os.Exit(0)
}

// statField is field n (1-based, as in proc(5)) of /proc/self/stat.
func statField(n int) string {
	data, _ := os.ReadFile("/proc/self/stat")
	text := string(data)
	i := strings.LastIndex(text, ")")
	if i < 0 {
		return "?"
	}
	fields := strings.Fields(text[i+1:])
	if n-3 < 0 || n-3 >= len(fields) {
		return "?"
	}
	return fields[n-3]
}

func ioctlPtr(fd int, req uintptr, arg unsafe.Pointer) syscall.Errno {
	_, _, e := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), req, uintptr(arg))
	return e
}

// ---- the host's terminal -------------------------------------------------------

func ttyAttack(mark string) {
	info("tty_nr=%s session=%s pgrp=%s", statField(7), statField(6), statField(5))
	type target struct {
		name string
		fd   int
	}
	var targets []target
	fd, err := syscall.Open("/dev/tty", syscall.O_RDWR|syscall.O_NOCTTY|syscall.O_CLOEXEC|syscall.O_NONBLOCK, 0)
	info("devtty=%s", errName(err))
	if err == nil {
		targets = append(targets, target{"/dev/tty", fd})
	}
	for i := 0; i < 3; i++ {
		targets = append(targets, target{fmt.Sprintf("fd%d", i), i})
	}
	for _, t := range targets {
		pushed := 0
		var last syscall.Errno
		for _, b := range []byte(mark) {
			c := b
			if e := ioctlPtr(t.fd, tiocsti, unsafe.Pointer(&c)); e == 0 {
				pushed++
			} else {
				last = e
			}
		}
		switch {
		case pushed > 0:
			escaped("tiocsti-"+t.name, fmt.Sprintf("pushed %d of %d bytes into the terminal's input", pushed, len(mark)))
		case last == syscall.EPERM:
			blocked("tiocsti-"+t.name, last)
		default:
			unfiltered("tiocsti-"+t.name, last)
		}
		// TIOCL_GETSHIFTSTATE: a harmless read of the console's state.
		sub := [4]byte{6}
		e := ioctlPtr(t.fd, tioclinux, unsafe.Pointer(&sub[0]))
		switch {
		case e == 0:
			escaped("tioclinux-"+t.name, "TIOCLINUX answered")
		case e == syscall.EPERM:
			blocked("tioclinux-"+t.name, e)
		default:
			unfiltered("tioclinux-"+t.name, e)
		}
	}
	// What was pushed stays queued while the test looks at the terminal.
	time.Sleep(300 * time.Millisecond)
	finish()
}

// ---- the descriptors gocrate handed over --------------------------------------------

func fdKind(fd int) string {
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return "closed"
	}
	switch st.Mode & syscall.S_IFMT {
	case syscall.S_IFREG:
		return "file"
	case syscall.S_IFIFO:
		return "pipe"
	case syscall.S_IFSOCK:
		return "socket"
	case syscall.S_IFCHR:
		return fmt.Sprintf("chr:%d:%d", (st.Rdev>>8)&0xfff, (st.Rdev&0xff)|((st.Rdev>>12)&0xfff00))
	case syscall.S_IFDIR:
		return "dir"
	}
	return "other"
}

func reopenFds(secretPrefix string) {
	var lines []string
	say := func(format string, a ...interface{}) { lines = append(lines, fmt.Sprintf(format, a...)) }
	bad := false
	// Everything is read before anything is printed: the reads must not see this program's own output.
	for fd := 0; fd < 3; fd++ {
		kind := fdKind(fd)
		link, _ := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd))
		say("INFO fd%d kind=%s link=%s", fd, kind, link)
		if kind == "file" || (strings.HasPrefix(kind, "chr:") && kind != "chr:1:3") {
			bad = true
			say("ESCAPED fd%d-is-host-%s %s", fd, kind, link)
		}
		// Raw calls: Go's poller would wait on an empty non-blocking pipe.
		r, err := syscall.Open(fmt.Sprintf("/proc/self/fd/%d", fd), syscall.O_RDONLY|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
		if err != nil {
			say("BLOCKED reopen-read-fd%d %s", fd, errName(err))
			continue
		}
		buf := make([]byte, 1<<20)
		n := 0
		for n < len(buf) {
			got, err := syscall.Read(r, buf[n:])
			if got <= 0 || err != nil {
				break
			}
			n += got
		}
		syscall.Close(r)
		text := string(buf[:n])
		if i := strings.Index(text, secretPrefix); i >= 0 {
			end := strings.IndexByte(text[i:], '\n')
			if end < 0 {
				end = len(text) - i
			}
			bad = true
			say("ESCAPED reopen-read-fd%d read-host-secret=%s", fd, hex.EncodeToString([]byte(text[i:i+end])))
		} else {
			say("BLOCKED reopen-read-fd%d read-%d-bytes-without-a-secret", fd, n)
		}
	}
	for fd := 0; fd < 3; fd++ {
		for _, mode := range []struct {
			name  string
			flags int
		}{{"write", syscall.O_WRONLY}, {"rdwr", syscall.O_RDWR}, {"trunc", syscall.O_WRONLY | syscall.O_TRUNC}} {
			w, err := syscall.Open(fmt.Sprintf("/proc/self/fd/%d", fd), mode.flags|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
			if err != nil {
				say("BLOCKED reopen-%s-fd%d %s", mode.name, fd, errName(err))
				continue
			}
			if kind := fdKind(w); kind == "file" {
				bad = true
				syscall.Write(w, []byte("REOPENED-AND-OVERWRITTEN\n"))
				say("ESCAPED reopen-%s-fd%d opened-the-host-file-for-writing", mode.name, fd)
			} else {
				say("BLOCKED reopen-%s-fd%d not-a-file:%s", mode.name, fd, kind)
			}
			syscall.Close(w)
		}
		if err := syscall.Ftruncate(fd, 0); err == nil {
			bad = true
			say("ESCAPED ftruncate-fd%d truncated-the-host-file", fd)
		} else {
			say("BLOCKED ftruncate-fd%d %s", fd, errName(err))
		}
	}
	for _, l := range lines {
		fmt.Println(l)
	}
	if bad {
		os.Exit(1)
	}
	os.Exit(0)
}

// ---- capabilities that must stay inside -------------------------------------------------

func writeSysctl(label, path string) {
	what := "sysctl-write-" + label
	old, err := os.ReadFile(path)
	if err != nil {
		blocked(what, err)
		return
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		blocked(what, err)
		return
	}
	defer f.Close()
	// The value it already has: a write that works proves the hole and changes nothing.
	if _, err := f.Write(old); err != nil {
		blocked(what, err)
		return
	}
	escaped(what, fmt.Sprintf("wrote %s (its unchanged value %q)", path, strings.TrimSpace(string(old))))
}

type fileHandle struct {
	bytes  uint32
	kind   int32
	handle [128]byte
}

func openByHandle(volume string) {
	if volume == "" {
		info("open_by_handle_at not tried: no volume")
		return
	}
	var fh fileHandle
	fh.bytes = 128
	var mountID int32
	p, _ := syscall.BytePtrFromString(volume)
	_, _, e := syscall.Syscall6(sysNameToHandleAt, uintptr(fdcwd), uintptr(unsafe.Pointer(p)),
		uintptr(unsafe.Pointer(&fh)), uintptr(unsafe.Pointer(&mountID)), 0, 0)
	if e != 0 {
		info("name_to_handle_at %s %s", volume, errName(e))
		return
	}
	mountFd, err := syscall.Open(volume, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
	if err != nil {
		info("open %s %s", volume, errName(err))
		return
	}
	defer syscall.Close(mountFd)
	try := func(what string, h *fileHandle) {
		r, _, e := syscall.Syscall(sysOpenByHandleAt, uintptr(mountFd), uintptr(unsafe.Pointer(h)),
			uintptr(syscall.O_RDONLY|syscall.O_CLOEXEC))
		if e != 0 {
			blocked(what, e)
			return
		}
		f := os.NewFile(r, "handle")
		names, _ := f.Readdirnames(20)
		f.Close()
		escaped(what, fmt.Sprintf("opened an inode by handle, entries %v", names))
	}
	try("open_by_handle_at-volume", &fh)
	// ext4's FILEID_INO32_GEN: inode 2 is the root of the host file system the volume lives on.
	if fh.kind == 1 {
		guess := fileHandle{bytes: 8, kind: 1}
		binary.LittleEndian.PutUint32(guess.handle[0:], 2)
		try("open_by_handle_at-fs-root", &guess)
	}
}

func contain(sysctl, volume string) {
	info("uid=%d", os.Getuid())
	host := "/proc/sys/" + sysctl
	writeSysctl("direct", host)

	if err := syscall.Mount("", "/proc/sys", "", syscall.MS_REMOUNT|syscall.MS_BIND, ""); err == nil {
		escaped("remount-proc-sys-rw", "/proc/sys is writable")
		writeSysctl("after-remount", host)
	} else {
		blocked("remount-proc-sys-rw", err)
	}
	if err := syscall.Unmount("/proc/sys", mntDetach); err == nil {
		escaped("umount-proc-sys", "the read-only /proc/sys is gone")
		writeSysctl("after-umount", host)
	} else {
		blocked("umount-proc-sys", err)
	}
	os.MkdirAll("/tmp/attack-proc", 0755)
	if err := syscall.Mount("proc", "/tmp/attack-proc", "proc", 0, ""); err == nil {
		escaped("mount-proc", "a new proc file system at /tmp/attack-proc")
		writeSysctl("new-proc", "/tmp/attack-proc/sys/"+sysctl)
		syscall.Unmount("/tmp/attack-proc", mntDetach)
	} else {
		blocked("mount-proc", err)
	}
	os.MkdirAll("/tmp/attack-sys", 0755)
	if err := syscall.Mount("sysfs", "/tmp/attack-sys", "sysfs", 0, ""); err == nil {
		escaped("mount-sysfs", "a new sysfs at /tmp/attack-sys")
		syscall.Unmount("/tmp/attack-sys", mntDetach)
	} else {
		blocked("mount-sysfs", err)
	}
	if err := syscall.Mount("", "/sys", "", syscall.MS_REMOUNT|syscall.MS_BIND, ""); err == nil {
		escaped("remount-sys-rw", "/sys is writable")
	} else {
		blocked("remount-sys-rw", err)
	}
	openByHandle(volume)
	// Last: it leaves this process in a mount namespace of its own.
	if err := syscall.Unshare(syscall.CLONE_NEWNS); err == nil {
		info("unshare(CLONE_NEWNS) worked; mounting in the new namespace")
		if err := syscall.Mount("proc", "/tmp/attack-proc", "proc", 0, ""); err == nil {
			escaped("unshare-mount-proc", "a new proc file system in a new mount namespace")
			writeSysctl("unshare-new-proc", "/tmp/attack-proc/sys/"+sysctl)
		} else {
			blocked("unshare-mount-proc", err)
		}
		if err := syscall.Unmount("/proc/sys", mntDetach); err == nil {
			escaped("unshare-umount-proc-sys", "the read-only /proc/sys is gone in the new namespace")
			writeSysctl("unshare-after-umount", host)
		} else {
			blocked("unshare-umount-proc-sys", err)
		}
	} else {
		blocked("unshare-mount-proc", err)
	}
	finish()
}

func ioUring() {
	params := make([]byte, 120)
	r, _, e := syscall.Syscall(sysIoUringSetup, 1, uintptr(unsafe.Pointer(&params[0])), 0)
	switch {
	case e == 0:
		syscall.Close(int(r))
		escaped("io_uring_setup", "made an io_uring")
	case e == syscall.EPERM || e == syscall.ENOSYS:
		blocked("io_uring_setup", e)
	default:
		unfiltered("io_uring_setup", e)
	}
}

// ---- exec's window ------------------------------------------------------------------------

func hashFile(f *os.File) (string, int64) {
	h := sha256.New()
	n, _ := io.Copy(h, f)
	return hex.EncodeToString(h.Sum(nil)), n
}

func hashPath(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	sum, n := hashFile(f)
	return sum, n, nil
}

type raceLog struct {
	mu sync.Mutex
	f  *os.File
}

func (l *raceLog) say(format string, a ...interface{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.f, format+"\n", a...)
}

// attackPid does, as fast as it can, what a process of the container could do
// to one that just appeared.
func attackPid(log *raceLog, pid int, canary, canaryDir, cwdName string) {
	runtime.LockOSThread() // ptrace requests come from the thread that attached
	p := "/proc/" + strconv.Itoa(pid)
	exe, exeErr := os.Open(p + "/exe")
	if data, err := os.ReadFile(p + "/root" + canary); err == nil {
		log.say("ESCAPED root-read pid=%d content=%q", pid, string(data))
	}
	cwdIsCanaryDir := false
	if data, err := os.ReadFile(p + "/cwd/" + cwdName); err == nil {
		cwdIsCanaryDir = true
		log.say("ESCAPED cwd-read pid=%d content=%q", pid, string(data))
	}
	// Writes go only into the test's own canary directory, never anywhere else on the host.
	name := fmt.Sprintf("escaped-%d-%d", pid, time.Now().UnixNano())
	if f, err := os.OpenFile(p+"/root"+canaryDir+"/"+name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0644); err == nil {
		f.Close()
		log.say("ESCAPED root-write pid=%d created=%s", pid, canaryDir+"/"+name)
	}
	if cwdIsCanaryDir {
		if f, err := os.OpenFile(p+"/cwd/"+name+"-cwd", os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0644); err == nil {
			f.Close()
			log.say("ESCAPED cwd-write pid=%d created=%s", pid, name+"-cwd")
		}
	}
	traced := ""
	if _, _, e := syscall.Syscall6(syscall.SYS_PTRACE, ptraceSeize, uintptr(pid), 0, 0, 0, 0); e == 0 {
		// Stop it (PTRACE_INTERRUPT, no SIGSTOP left pending), look at it, let it go.
		syscall.Syscall6(syscall.SYS_PTRACE, ptraceInterrupt, uintptr(pid), 0, 0, 0, 0)
		var ws syscall.WaitStatus
		deadline := time.Now().Add(time.Second)
		stopped := false
		for time.Now().Before(deadline) {
			got, err := syscall.Wait4(pid, &ws, syscall.WALL|syscall.WNOHANG, nil)
			if err != nil || (got == pid && !ws.Stopped()) {
				break
			}
			if got == pid && ws.Stopped() {
				stopped = true
				break
			}
			time.Sleep(100 * time.Microsecond)
		}
		link, _ := os.Readlink(p + "/exe")
		sum, _, err := hashPath(p + "/exe")
		if data, err := os.ReadFile(p + "/root" + canary); err == nil {
			log.say("ESCAPED ptrace-root-read pid=%d content=%q", pid, string(data))
		}
		syscall.Syscall6(syscall.SYS_PTRACE, syscall.PTRACE_DETACH, uintptr(pid), 0, 0, 0, 0)
		traced = fmt.Sprintf("PTRACED pid=%d stopped=%v exe=%s sha=%s err=%s", pid, stopped, link, sum, errName(err))
	}
	cwdLink, _ := os.Readlink(p + "/cwd")
	rootLink, _ := os.Readlink(p + "/root")
	exeLink, _ := os.Readlink(p + "/exe")
	fds, _ := os.ReadDir(p + "/fd")
	for _, e := range fds {
		fdPath := p + "/fd/" + e.Name()
		link, _ := os.Readlink(fdPath)
		f, err := syscall.Open(fdPath, syscall.O_RDONLY|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
		if err != nil {
			continue
		}
		log.say("FDOPEN pid=%d fd=%s link=%s", pid, e.Name(), link)
		// From a directory outside this root, ".." climbs to the host's root.
		up := strings.Repeat("../", 40) + strings.TrimPrefix(canary, "/")
		if fd, err := syscall.Openat(f, up, syscall.O_RDONLY|syscall.O_NONBLOCK, 0); err == nil {
			buf := make([]byte, 200)
			n, _ := syscall.Read(fd, buf)
			syscall.Close(fd)
			if n < 0 {
				n = 0
			}
			log.say("ESCAPED fd-climb pid=%d fd=%s link=%s content=%q", pid, e.Name(), link, string(buf[:n]))
		}
		syscall.Close(f)
	}
	if exeErr == nil {
		sum, size := hashFile(exe)
		exe.Close()
		log.say("EXE pid=%d size=%d sha=%s link=%s", pid, size, sum, exeLink)
	} else {
		log.say("NOEXE pid=%d %s", pid, errName(exeErr))
	}
	if traced != "" {
		log.say("%s", traced)
	}
	log.say("SEEN pid=%d cwd=%s root=%s exe=%s", pid, cwdLink, rootLink, exeLink)
}

func race(logPath, canary, cwdName string, seconds int) {
	f, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0644)
	if err != nil {
		fmt.Println("cannot write", logPath, err)
		os.Exit(2)
	}
	log := &raceLog{f: f}
	self := os.Getpid()
	sum, _, _ := hashPath("/proc/self/exe")
	log.say("SELF pid=%d sha=%s", self, sum)
	canaryDir := canary[:strings.LastIndex(canary, "/")]
	seen := map[int]bool{self: true}
	proc, err := os.Open("/proc")
	if err != nil {
		log.say("cannot open /proc: %v", err)
		os.Exit(2)
	}
	fmt.Println("ready")
	deadline := time.Now().Add(time.Duration(seconds) * time.Second)
	for time.Now().Before(deadline) {
		proc.Seek(0, 0)
		names, _ := proc.Readdirnames(-1)
		for _, n := range names {
			pid, err := strconv.Atoi(n)
			if err != nil || seen[pid] {
				continue
			}
			seen[pid] = true
			go attackPid(log, pid, canary, canaryDir, cwdName)
		}
	}
	log.say("DONE")
	time.Sleep(time.Hour)
}

// ---- helpers ------------------------------------------------------------------------

func hostileEtc(kind string) {
	var err error
	switch kind {
	case "fifo-passwd":
		os.Remove("/etc/passwd")
		err = syscall.Mkfifo("/etc/passwd", 0644)
	case "fifo-group":
		os.Remove("/etc/group")
		err = syscall.Mkfifo("/etc/group", 0644)
	case "zero-passwd":
		os.Remove("/etc/passwd")
		err = os.Symlink("/dev/zero", "/etc/passwd")
	default:
		err = fmt.Errorf("unknown kind %s", kind)
	}
	if err != nil {
		fmt.Println("hostile-etc", kind, err)
		os.Exit(1)
	}
	fmt.Println("done", kind)
}

func pattern(n int, reverse bool) []byte {
	b := make([]byte, n)
	for i := range b {
		if reverse {
			b[i] = byte(255 - i%256)
		} else {
			b[i] = byte(i % 256)
		}
	}
	return b
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: attack MODE ARGS...")
		os.Exit(2)
	}
	arg := func(i int) string {
		if len(os.Args) > i {
			return os.Args[i]
		}
		return ""
	}
	n, _ := strconv.Atoi(arg(2))
	switch os.Args[1] {
	case "tty":
		ttyAttack(arg(2))
	case "reopen-fds":
		reopenFds(arg(2))
	case "contain":
		contain(arg(2), arg(3))
	case "io-uring":
		ioUring()
		finish()
	case "race":
		seconds, _ := strconv.Atoi(arg(5))
		race(arg(2), arg(3), arg(4), seconds)
	case "mountinfo":
		data, _ := os.ReadFile("/proc/self/mountinfo")
		os.Stdout.Write(data)
	case "show":
		data, err := os.ReadFile(arg(2))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Stdout.Write(data)
	case "hostile-etc":
		hostileEtc(arg(2))
	case "sleep":
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, syscall.SIGTERM)
		fmt.Println("ready")
		<-ch
		os.Exit(0)
	case "nap":
		time.Sleep(time.Duration(n) * time.Millisecond)
	case "exit":
		os.Exit(n)
	case "kill-self":
		// Not as pid 1: the kernel ignores a signal pid 1 sends itself.
		syscall.Kill(os.Getpid(), syscall.Signal(n))
		time.Sleep(10 * time.Second)
		os.Exit(99)
	case "binary":
		out, errOut := pattern(n, false), pattern(n, true)
		for i := 0; i < n; i += 4096 {
			end := i + 4096
			if end > n {
				end = n
			}
			os.Stdout.Write(out[i:end])
			os.Stderr.Write(errOut[i:end])
		}
	case "cat":
		copied, err := io.Copy(os.Stdout, os.Stdin)
		fmt.Fprintf(os.Stderr, "EOF after %d bytes %s\n", copied, errName(err))
	default:
		fmt.Fprintln(os.Stderr, "unknown mode", os.Args[1])
		os.Exit(2)
	}
}
'''


# ---- running gocrate without trusting it to end ----------------------------------------------

HANG = 20  # seconds: a command that takes longer is reported as hung
HOSTILE_HANG = 10  # the hostile images must fail at once; their runs go in parallel
MEMORY_CAP = 1536 << 20  # address space for runs that might read without end (RLIMIT_AS)
MEMORY_WARN_MB = 256  # what a run that refuses an image may use at most

GOCRATE_PATH = os.path.realpath(shutil.which(GOCRATE) or GOCRATE)

# Where the output of commands is kept: a path a process in the container must never get hold of.
OUT_DIR = tempfile.mkdtemp(prefix="gocrate-attack-out-")
atexit.register(shutil.rmtree, OUT_DIR, True)


class Outcome:
    def __init__(self, argv, returncode, stdout, stderr, elapsed, maxrss_mb, timed_out):
        self.argv, self.returncode, self.stdout, self.stderr = argv, returncode, stdout, stderr
        self.elapsed, self.maxrss_mb, self.timed_out = elapsed, maxrss_mb, timed_out

    @property
    def text(self):
        return self.stdout.decode(errors="replace")

    @property
    def err(self):
        return self.stderr.decode(errors="replace")

    def describe(self):
        if self.timed_out:
            return f"`{self.command()}` HUNG: still running after {self.elapsed:.0f}s (killed)"
        return f"`{self.command()}` exited {self.returncode}: {self.err.strip()[-400:]!r}"

    def command(self):
        return "gocrate " + " ".join(self.argv[3:])


class Running:
    """A gocrate command in a process group of its own, reaped with its resource usage."""

    def __init__(self, store, args, stdin=None, stdout=None, stderr=None, cwd=None, as_limit=None):
        self.argv = [GOCRATE, "--root", store.path, *args]
        self.own_out = stdout is None
        self.own_err = stderr is None
        self.out = tempfile.TemporaryFile(dir=OUT_DIR) if stdout is None else stdout
        self.errf = tempfile.TemporaryFile(dir=OUT_DIR) if stderr is None else stderr

        def preexec():
            if as_limit:
                resource.setrlimit(resource.RLIMIT_AS, (as_limit, as_limit))

        self.start = time.monotonic()
        self.process = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL if stdin is None else stdin,
                                        stdout=self.out, stderr=self.errf, cwd=cwd, start_new_session=True,
                                        preexec_fn=preexec if as_limit else None)
        self.pidfd = os.pidfd_open(self.process.pid)

    def finish(self, timeout=HANG):
        ready, _, _ = select.select([self.pidfd], [], [], max(0.0, self.start + timeout - time.monotonic()))
        timed_out = not ready
        if timed_out:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
        _, status, usage = os.wait4(self.process.pid, 0)
        os.close(self.pidfd)
        elapsed = time.monotonic() - self.start
        self.process.returncode = os.waitstatus_to_exitcode(status)
        out = err = b""
        if self.own_out:
            self.out.seek(0)
            out = self.out.read()
            self.out.close()
        if self.own_err:
            self.errf.seek(0)
            err = self.errf.read()
            self.errf.close()
        return Outcome(self.argv, self.process.returncode, out, err, elapsed, usage.ru_maxrss / 1024, timed_out)


def gocrate(store, *args, timeout=HANG, **kw):
    return Running(store, args, **kw).finish(timeout)


def must(outcome, what=None):
    """The outcome of a command that has to work."""
    check(not outcome.timed_out and outcome.returncode == 0,
          f"{what or 'setup'}: {outcome.describe()}\nstdout: {outcome.text[-800:]!r}")
    return outcome


def verdict_lines(text):
    """The probe's lines; on a terminal the echo of what it pushed can come first on the line."""
    return [m.group(0) for m in re.finditer(r"(?:BLOCKED|ESCAPED|UNFILTERED|INFO) [^\r\n]*", text)]


def verdict_problems(what, text, code):
    """What the probe's verdict lines say went wrong, as one message per line."""
    lines = verdict_lines(text)
    problems = [f"{what}: {line}" for line in lines if line.startswith(("ESCAPED ", "UNFILTERED "))]
    if not any(line.startswith("BLOCKED ") for line in lines) and not problems:
        problems.append(f"{what}: the probe reported nothing (exit {code}): {text[-600:]!r}")
    elif code != 0 and not problems:
        problems.append(f"{what}: the probe exited {code}: {text[-600:]!r}")
    return problems


def info_of(text, key):
    for line in verdict_lines(text):
        if line.startswith("INFO "):
            for word in line.split()[1:]:
                if word.startswith(key + "="):
                    return word[len(key) + 1:]
    return None


def report(problems, what):
    """Fails with every problem, under the case it was found in."""
    grouped = {}
    for problem in problems:
        where, _, detail = problem.partition(": ")
        grouped.setdefault(where, []).append(detail)
    text = "".join(f"\n  {where}:" + "".join(f"\n      {d}" for d in details) for where, details in grouped.items())
    check(not problems, f"{len(problems)} problem(s) {what}, in {len(grouped)} case(s):{text}")


# ---- the attack image, built once per file ----------------------------------------------------

_shared = {}


def attack_image(store, work):
    """The attack program as image "attack" in this test's store (built by the first test, loaded by the rest)."""
    shared_image(store, work, "attack", ATTACK_SOURCE)


def gocrate_sha256():
    if "gocrate_sha" not in _shared:
        # In pieces: the executable with its debug information is near 300 MB, and a child forked from this
        # process starts with its peak resident size, which the memory checks of refused runs read.
        digest = hashlib.sha256()
        with open(GOCRATE_PATH, "rb") as f:
            for piece in iter(lambda: f.read(1 << 20), b""):
                digest.update(piece)
        _shared["gocrate_sha"] = digest.hexdigest()
    return _shared["gocrate_sha"]


# ---- leaving nothing behind ---------------------------------------------------------------------

def store_processes(store):
    """Processes started for this store: gocrate commands, supervisors, containers not yet executed, and every
    process in one of its containers' cgroups."""
    pids = set()
    marker = b"\0" + store.path.encode() + b"\0"  # the argument of --root
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            with contextlib.suppress(OSError):
                if marker in open(f"/proc/{entry}/cmdline", "rb").read():
                    pids.add(int(entry))
    base = os.path.join(store.path, "containers")
    for cid in os.listdir(base) if os.path.isdir(base) else []:
        for d in container_cgroups(cid):
            for name in ("cgroup.procs", "tasks"):
                with contextlib.suppress(OSError):
                    pids.update(int(p) for p in open(os.path.join(d, name)).read().split())
    return pids


def store_container_ids(store):
    base = os.path.join(store.path, "containers")
    return [d for d in os.listdir(base) if len(d) == 64] if os.path.isdir(base) else []


def remove_all(store, timeout=HANG):
    """rm -f of every container, then SIGKILL to whatever of this store still runs, and the cgroups a killed
    gocrate left. Returns what hung."""
    hung = []
    known = store_container_ids(store)
    listed = gocrate(store, "ps", "-a", "-q", timeout=timeout)
    ids = listed.text.split() if listed.returncode == 0 and not listed.timed_out else known
    if listed.timed_out:
        hung.append(listed.describe())
    if ids:
        removed = gocrate(store, "rm", "-f", *ids, timeout=timeout)
        if removed.timed_out:
            hung.append(removed.describe())
    pids = store_processes(store)
    for pid in pids:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    if pids:
        time.sleep(0.3)
        listed = gocrate(store, "ps", "-a", "-q", timeout=timeout)
        if listed.returncode == 0 and listed.text.split():
            gocrate(store, "rm", "-f", *listed.text.split(), timeout=timeout)
        for cid in known:
            for d in container_cgroups(cid):
                with contextlib.suppress(OSError):
                    os.rmdir(d)
    return hung


@contextlib.contextmanager
def cleaned(store):
    try:
        yield
    finally:
        remove_all(store)


def container_state(store, name):
    out = gocrate(store, "inspect", "--type", "container", name, timeout=HANG)
    check(out.returncode == 0 and not out.timed_out, f"inspect {name}: {out.describe()}")
    return json.loads(out.text)[0]


def detach(store, *args, cwd=None, as_limit=None):
    out = must(gocrate(store, "run", "-d", *args, cwd=cwd, as_limit=as_limit), f"run -d {' '.join(args)}")
    return out.text.strip()


def wait_ready(store, name):
    def ready():
        logs = gocrate(store, "logs", name, timeout=HANG)
        return "ready" in logs.text
    wait_for(ready, 20, f"{name} to start")


def health_log(store, name, entries=1, timeout=20):
    """The health log once it holds `entries` results."""
    def enough():
        health = container_state(store, name)["State"].get("Health") or {}
        return len(health.get("Log") or []) >= entries
    wait_for(enough, timeout, f"{entries} health check(s) of {name} to be logged")
    return container_state(store, name)["State"]["Health"]["Log"]


# ---- 1. the host's terminal ---------------------------------------------------------------------

def on_host_terminal(argv, timeout=HANG):
    """Runs argv on a new pty that is its controlling terminal and stdin, stdout and stderr (as a shell
    would, without -t). Returns (exit code or None when it hung, output, bytes that arrived as terminal input)."""
    master, slave = os.openpty()
    tty.setraw(slave)  # whatever is pushed into the input queue is readable at once, with no echo
    watcher = os.open(os.ttyname(slave), os.O_RDONLY | os.O_NOCTTY)
    output, injected = bytearray(), bytearray()

    def make_controlling():
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    process = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, start_new_session=True,
                               preexec_fn=make_controlling)
    os.close(slave)
    deadline = time.monotonic() + timeout
    ended_at = None
    try:
        while True:
            now = time.monotonic()
            if ended_at is None and process.poll() is not None:
                ended_at = now
            if (ended_at is not None and now - ended_at > 0.3) or now > deadline:
                break
            ready, _, _ = select.select([master, watcher], [], [], 0.05)
            for fd in ready:
                try:
                    data = os.read(fd, 65536)
                except OSError:
                    data = b""
                (output if fd == master else injected).extend(data)
    finally:
        code = process.poll()
        if code is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        os.close(master)
        os.close(watcher)
    return code, output.decode(errors="replace"), bytes(injected)


def tiocsti_works_here():
    try:
        return open("/proc/sys/dev/tty/legacy_tiocsti").read().strip() != "0"
    except OSError:
        return True


def layer_binary(store, name):
    layers = os.path.join(store.path, "layers", "sha256")
    for d in os.listdir(layers):
        candidate = os.path.join(layers, d, "app", name)
        if os.path.isfile(candidate):
            return candidate
    raise Failure(f"no /app/{name} in the layer cache of {store.path}")


def test_the_host_terminal_is_out_of_reach(store, work):
    attack_image(store, work)
    with cleaned(store):
        mark = "ZQ" + secrets.token_hex(4)
        base = [GOCRATE_PATH, "--root", store.path]
        # The detector works: the same program run on the host pushes the marker into the terminal's input.
        if tiocsti_works_here():
            must(gocrate(store, "run", "--rm", "attack", "exit", "0"), "unpack the image")
            code, out, injected = on_host_terminal([layer_binary(store, "attack"), "tty", mark])
            check(mark.encode() in injected and "ESCAPED tiocsti-/dev/tty" in out,
                  f"self-check: run on the host, the probe did not reach the terminal ({code}, {out!r}, "
                  f"{injected!r}); this test cannot see an escape")
        problems = []

        def judge(what, argv, own_terminal):
            code, out, injected = on_host_terminal(argv)
            if code is None:
                problems.append(f"{what}: HUNG for {HANG}s")
                return
            if mark.encode() in injected:
                problems.append(f"{what}: the marker arrived as INPUT on the host's terminal ({injected!r})")
            problems.extend(verdict_problems(what, out, code))
            devtty, tty_nr = info_of(out, "devtty"), info_of(out, "tty_nr")
            if not own_terminal:
                if devtty != "ENXIO":
                    problems.append(f"{what}: /dev/tty opened with {devtty} (the host's terminal is the container's "
                                    f"controlling terminal; want ENXIO)")
                if tty_nr != "0":
                    problems.append(f"{what}: the container has controlling terminal tty_nr={tty_nr}, want none")

        for flags in [[], ["-u", "0"], ["-u", "0", "--cap-add", "SYS_ADMIN"], ["--cap-add", "ALL", "-u", "0"]]:
            judge(" ".join(["run", *flags]), base + ["run", "--rm", *flags, "attack", "tty", mark], False)
        for flags in [["-t"], ["-t", "-u", "0", "--cap-add", "SYS_ADMIN"]]:
            judge(" ".join(["run", *flags]), base + ["run", "--rm", *flags, "attack", "tty", mark], True)

        detach(store, "--name", "ttybox", "-u", "0", "--cap-add", "SYS_ADMIN", "--health-cmd",
               f"/app/attack tty {mark}", "--health-interval", "200ms", "attack", "sleep")
        for flags in [[], ["-u", "65532"]]:
            judge(" ".join(["exec", *flags]), base + ["exec", *flags, "ttybox", "/app/attack", "tty", mark], False)
        judge("exec -t", base + ["exec", "-t", "ttybox", "/app/attack", "tty", mark], True)
        for entry in health_log(store, "ttybox")[:1]:
            problems.extend(verdict_problems("--health-cmd", entry["Output"], entry["ExitCode"]))
        report(problems, "with the host's terminal")


# ---- 2. the descriptors given to the container ------------------------------------------------------

def test_stdio_cannot_be_reopened_as_host_files(store, work):
    attack_image(store, work)
    with cleaned(store):
        problems = []
        detach(store, "--name", "fdbox", "-u", "0", "attack", "sleep")

        def attempt(what, args, interactive):
            secrets_ = {name: f"HOST-SECRET-{name}-{secrets.token_hex(8)}" for name in ("stdin", "stdout", "stderr")}
            paths = {name: os.path.join(work, f"{what.replace(' ', '_')}-{name}") for name in secrets_}
            for name, path in paths.items():
                content = "public input for -i\n" if (name == "stdin" and interactive) else secrets_[name] + "\n"
                with open(path, "w") as f:
                    f.write(content)
                os.chmod(path, 0o644)
            before_stdin = open(paths["stdin"], "rb").read()
            with open(paths["stdin"], "rb") as stdin, open(paths["stdout"], "ab") as stdout, \
                    open(paths["stderr"], "ab") as stderr:
                outcome = gocrate(store, *args, "reopen-fds", "HOST-SECRET-", stdin=stdin, stdout=stdout,
                                  stderr=stderr)
            if outcome.timed_out:
                problems.append(f"{what}: {outcome.describe()}")
                return
            out = open(paths["stdout"]).read()
            err = open(paths["stderr"]).read()
            for name in ("stdout", "stderr"):
                text = open(paths[name]).read()
                if not text.startswith(secrets_[name] + "\n"):
                    problems.append(f"{what}: the host file on {name} was overwritten or truncated: {text[:120]!r}")
            if open(paths["stdin"], "rb").read() != before_stdin:
                problems.append(f"{what}: the host file on stdin was changed: {open(paths['stdin']).read()[:120]!r}")
            for name, secret in secrets_.items():
                if secret.encode().hex() in out + err:
                    problems.append(f"{what}: the container read the {name} file's secret line through "
                                    f"/proc/self/fd")
            problems.extend(verdict_problems(what, out, outcome.returncode))
            if err.startswith(secrets_["stderr"] + "\n") and err.strip() != secrets_["stderr"]:
                problems.append(f"{what}: unexpected stderr {err[-300:]!r}")

        for flags in [[], ["-u", "0"], ["-u", "0", "--cap-add", "ALL"]]:
            attempt(" ".join(["run", *flags]), ["run", "--rm", *flags, "attack"], False)
            attempt(" ".join(["run", "-i", *flags]), ["run", "--rm", "-i", *flags, "attack"], True)
        attempt("exec", ["exec", "fdbox", "/app/attack"], False)
        attempt("exec -i", ["exec", "-i", "fdbox", "/app/attack"], True)
        attempt("exec -u 65532", ["exec", "-u", "65532", "fdbox", "/app/attack"], False)
        report(problems, "with the descriptors handed to the container")


def test_exit_codes_signals_stdin_and_binary_output_pass_through(store, work):
    attack_image(store, work)
    with cleaned(store):
        problems = []
        detach(store, "--name", "relay", "attack", "sleep")
        size = 1 << 20
        pattern = bytes(i % 256 for i in range(size))
        reverse = bytes(255 - i % 256 for i in range(size))
        data = bytes(range(256)) * 1024
        stdin_file = os.path.join(work, "stdin.bin")
        with open(stdin_file, "wb") as f:
            f.write(data)
        for where, prefix in [("run", ["run", "--rm", "attack"]), ("exec", ["exec", "relay", "/app/attack"])]:
            for code in (0, 3, 255):
                out = gocrate(store, *prefix, "exit", str(code))
                if out.timed_out or out.returncode != code:
                    problems.append(f"{where} exit {code}: {out.describe()}")
            # As pid 1 the kernel ignores the signal a program sends itself: --init makes it an ordinary process.
            killer = ["run", "--rm", "--init", "attack"] if where == "run" else prefix
            for signum in (signal.SIGTERM, signal.SIGKILL):
                out = gocrate(store, *killer, "kill-self", str(int(signum)))
                if out.timed_out or out.returncode != 128 + signum:
                    problems.append(f"{where} killed by {signum.name}: want {128 + signum}, {out.describe()}")
            out = gocrate(store, *prefix, "binary", str(size))
            if out.timed_out or out.returncode != 0 or out.stdout != pattern or out.stderr != reverse:
                problems.append(f"{where} binary output: exit {out.returncode}, stdout {len(out.stdout)} bytes "
                                f"(equal: {out.stdout == pattern}), stderr {len(out.stderr)} bytes "
                                f"(equal: {out.stderr == reverse}){' HUNG' if out.timed_out else ''}")
            interactive = prefix[:1] + ["-i"] + prefix[1:]
            with open(stdin_file, "rb") as stdin:
                out = gocrate(store, *interactive, "cat", stdin=stdin)
            if out.timed_out or out.returncode != 0 or out.stdout != data or \
                    out.err != f"EOF after {len(data)} bytes ok\n":
                problems.append(f"{where} -i cat of all 256 byte values: exit {out.returncode}, "
                                f"{len(out.stdout)} of {len(data)} bytes back (equal: {out.stdout == data}), "
                                f"stderr {out.err[-200:]!r}{' HUNG (stdin EOF lost?)' if out.timed_out else ''}")
            with open(stdin_file, "rb") as stdin:
                out = gocrate(store, *prefix, "cat", stdin=stdin)
            if out.timed_out or out.returncode != 0 or out.stdout != b"" or out.err != "EOF after 0 bytes ok\n":
                problems.append(f"{where} without -i: stdin reached the container or did not end: exit "
                                f"{out.returncode}, {len(out.stdout)} bytes, {out.err[-200:]!r}")
        # Through pipes, as a shell pipeline gives them.
        try:
            piped = subprocess.run([GOCRATE, "--root", store.path, "run", "--rm", "attack", "binary", str(size)],
                                   stdin=subprocess.DEVNULL, capture_output=True, timeout=HANG)
            if piped.returncode != 0 or piped.stdout != pattern or piped.stderr != reverse:
                problems.append(f"run | pipe: binary output: exit {piped.returncode}, stdout {len(piped.stdout)} bytes "
                                f"(equal: {piped.stdout == pattern}), stderr {len(piped.stderr)} bytes "
                                f"(equal: {piped.stderr == reverse})")
        except subprocess.TimeoutExpired:
            problems.append(f"run | pipe: binary output HUNG for {HANG}s")
        # Into a host file that already holds a line: appended after it, byte for byte.
        target = os.path.join(work, "appended")
        with open(target, "wb") as f:
            f.write(b"kept line\n")
        with open(target, "ab") as f:
            out = gocrate(store, "run", "--rm", "attack", "binary", str(size), stdout=f)
        if out.timed_out or open(target, "rb").read() != b"kept line\n" + pattern:
            problems.append(f"run > file: the file does not hold the line and then the output ({out.describe()})")
        report(problems, "passing exit codes, signals and data through")


# ---- 3. exec's window ----------------------------------------------------------------------------

def test_processes_entering_the_container_hold_nothing_of_the_host(store, work):
    attack_image(store, work)
    with cleaned(store):
        problems = []
        gocrate_sha = gocrate_sha256()
        canary_dir = os.path.join(work, "canary")
        os.makedirs(canary_dir)
        canary_name = "secret-" + secrets.token_hex(4)
        canary = os.path.join(canary_dir, canary_name)
        marker = "HOST-CANARY-" + secrets.token_hex(8)
        with open(canary, "w") as f:
            f.write(marker)
        os.chmod(canary, 0o644)
        os.chmod(work, 0o755)
        for config, flags, exec_users in [
                ("root with SYS_PTRACE", ["-u", "0", "--cap-add", "SYS_PTRACE"], [[], ["-u", "65532"]]),
                ("default user with SYS_PTRACE", ["--cap-add", "SYS_PTRACE"], [[], ["-u", "0"]]),
                ("root with ALL", ["-u", "0", "--cap-add", "ALL"], [[]])]:
            name = "race" + secrets.token_hex(3)
            detach(store, "--name", name, *flags, "--health-cmd", "/app/attack nap 20", "--health-interval", "200ms",
                   "attack", "race", "/tmp/race.log", canary, canary_name, "120", cwd=canary_dir)
            wait_ready(store, name)
            execs = 100 // len(exec_users)
            for user in exec_users:
                for i in range(execs):
                    out = gocrate(store, "exec", *user, name, "/app/attack", "nap", "20", cwd=canary_dir)
                    if out.timed_out or out.returncode != 0:
                        problems.append(f"{config}: exec {' '.join(user)} #{i}: {out.describe()}")
                        break
            time.sleep(1)
            shown = gocrate(store, "exec", "-u", "0", name, "/app/attack", "show", "/tmp/race.log", cwd=canary_dir)
            check(shown.returncode == 0, f"{config}: cannot read the probe's log: {shown.describe()}")
            log = shown.text.splitlines()
            self_sha = next((re.search(r"sha=(\S*)", line).group(1) for line in log if line.startswith("SELF ")),
                            None)
            check(self_sha, f"{config}: the probe's log has no SELF line: {log[:5]}")
            seen = [line for line in log if line.startswith("SEEN ")]
            own_exes = [line for line in log if line.startswith("EXE ") and f"sha={self_sha}" in line]
            findings = {}  # kind of escape: the log lines that show it
            notes = set()
            for line in log:
                kind = None
                if line.startswith("ESCAPED "):
                    kind = " ".join(line.split()[:2])
                elif line.startswith(("EXE ", "PTRACED ")):
                    sha = re.search(r"sha=(\S*)", line).group(1)
                    if sha == gocrate_sha:
                        kind = ("traced a process running gocrate's executable" if line.startswith("PTRACED ")
                                else "read gocrate's own executable through /proc/<pid>/exe")
                    elif sha and sha != self_sha:
                        # Not an escape by itself (what such a process holds is checked above and below).
                        notes.add(f"{config}: {line.split()[0]} of an executable that is not the container's "
                                  f"program: {line}")
                elif line.startswith("FDOPEN ") and any(host in line.split("link=")[1]
                                                         for host in (work, OUT_DIR, "gocrate")):
                    kind = "opened a host file or directory held open by a process entering the container"
                elif line.startswith("SEEN ") and (work in line or GOCRATE_PATH in line):
                    kind = "saw a process with the host's cwd or gocrate's executable"
                if kind:
                    findings.setdefault(kind, []).append(line)
            for note in sorted(notes)[:5]:
                print(f"  note: {note}", flush=True)
            for kind, lines in findings.items():
                examples = "; ".join(lines[:2])
                problems.append(f"{config}: {kind}: {len(lines)} time(s), e.g. {examples}")
            # The scanner itself worked: it saw the exec'd programs and could open their executables.
            check(len(seen) >= 20 and own_exes,
                  f"{config}: the scanner saw {len(seen)} processes and opened {len(own_exes)} executables: the "
                  f"race was not run ({log[:5]})")
            print(f"  {config}: {len(seen)} processes seen, {len(own_exes)} executables opened, "
                  f"{sum(line.startswith('PTRACED ') for line in log)} traced", flush=True)
            for entry in health_log(store, name):
                if entry["ExitCode"] != 0:
                    problems.append(f"{config}: a health check failed: {entry}")
            must(gocrate(store, "rm", "-f", name), "rm -f")
        left = sorted(os.listdir(canary_dir))
        if left != [canary_name]:
            problems.append(f"host directory {canary_dir}: {len(left) - 1} file(s) written from the container, "
                            f"e.g. {[f for f in left if f != canary_name][:3]}")
        if open(canary).read() != marker:
            problems.append("the host canary was changed")
        report(problems, "in exec's and the health check's window")


# ---- 4. added capabilities stay inside ----------------------------------------------------------

SYSCTL = "vm/stat_interval"  # not namespaced; the probe writes back the value it read


def test_added_capabilities_do_not_reach_the_host(store, work):
    attack_image(store, work)
    with cleaned(store):
        problems = []
        host_sysctl = "/proc/sys/" + SYSCTL
        before = open(host_sysctl).read()
        volume = os.path.join(work, "vol")
        os.makedirs(volume)
        for flags in [[], ["-u", "0"], ["-u", "0", "--cap-add", "SYS_ADMIN"], ["-u", "0", "--cap-add", "ALL"],
                      ["--cap-add", "ALL"], ["-u", "0", "--cap-add", "SYS_ADMIN", "--cap-add", "DAC_READ_SEARCH"]]:
            out = gocrate(store, "run", "--rm", "-v", f"{volume}:/vol", *flags, "attack", "contain", SYSCTL, "/vol")
            what = " ".join(["run", *flags])
            if out.timed_out:
                problems.append(f"{what}: {out.describe()}")
                continue
            problems.extend(verdict_problems(what, out.text, out.returncode))
        detach(store, "--name", "capbox", "-u", "0", "--cap-add", "ALL", "-v", f"{volume}:/vol", "--health-cmd",
               f"/app/attack contain {SYSCTL} /vol", "--health-interval", "300ms", "attack", "sleep")
        out = gocrate(store, "exec", "capbox", "/app/attack", "contain", SYSCTL, "/vol")
        problems.extend(verdict_problems("exec in a --cap-add ALL container", out.text, out.returncode))
        for entry in health_log(store, "capbox")[:1]:
            problems.extend(verdict_problems("--health-cmd in a --cap-add ALL container", entry["Output"],
                                             entry["ExitCode"]))
        after = open(host_sysctl).read()
        if after != before:
            with open(host_sysctl, "w") as f:
                f.write(before)
            problems.append(f"the host's {host_sysctl} changed from {before!r} to {after!r} (restored)")
        if os.listdir(volume):
            problems.append(f"the volume holds {os.listdir(volume)}")
        # --privileged is the one switch that leaves /proc/sys writable (looked at, not written).
        out = gocrate(store, "run", "--rm", "--privileged", "attack", "mountinfo")
        if out.timed_out or out.returncode != 0:
            hint = " (gocrate passed the flag on to the program)" if "unknown mode --privileged" in out.err else ""
            problems.append(f"run --privileged: {out.describe()}{hint}")
        else:
            mounts = {line.split()[4]: line.split()[5].split(",") for line in out.text.splitlines()
                      if len(line.split()) > 5}
            proc_sys = mounts.get("/proc/sys", mounts.get("/proc"))
            if proc_sys is None or "ro" in proc_sys:
                problems.append(f"run --privileged: /proc/sys is not mounted read-write: {proc_sys}")
        report(problems, "with added capabilities")


# ---- 5. io_uring ---------------------------------------------------------------------------------

def test_io_uring_is_refused(store, work):
    attack_image(store, work)
    with cleaned(store):
        problems = []
        for flags in [[], ["-u", "0"], ["-u", "0", "--cap-add", "SYS_ADMIN"]]:
            out = gocrate(store, "run", "--rm", *flags, "attack", "io-uring")
            problems.extend(verdict_problems(" ".join(["run", *flags]), out.text, out.returncode)
                            if not out.timed_out else [out.describe()])
        detach(store, "--name", "uring", "-u", "0", "--health-cmd", "/app/attack io-uring", "--health-interval",
               "200ms", "attack", "sleep")
        out = gocrate(store, "exec", "uring", "/app/attack", "io-uring")
        problems.extend(verdict_problems("exec", out.text, out.returncode))
        for entry in health_log(store, "uring")[:1]:
            problems.extend(verdict_problems("--health-cmd", entry["Output"], entry["ExitCode"]))
        report(problems, "with io_uring")


# ---- 6. hostile /etc/passwd and /etc/group ----------------------------------------------------------

def hostile_image(store, work, name, entries):
    """The attack image plus a layer of `entries` (TarInfo), running as "nonroot", loaded as `name`."""
    image_with_layer(store, work, "attack", name, [(info, None) for info in entries], user="nonroot")


def special(name, kind, target=""):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    info.mode = 0o644
    return info


def etc_dir():
    info = tarfile.TarInfo("etc")
    info.type = tarfile.DIRTYPE
    info.mode = 0o755
    return info


HOSTILE = [
    ("fifo-passwd", [etc_dir(), special("etc/passwd", tarfile.FIFOTYPE)], "/etc/passwd"),
    ("fifo-group", [etc_dir(), special("etc/group", tarfile.FIFOTYPE)], "/etc/group"),
    ("zero-passwd", [etc_dir(), special("etc/passwd", tarfile.SYMTYPE, "/dev/zero")], "/etc/passwd"),
]


def judge_refusal(what, outcome, texts, problems):
    if outcome.timed_out:
        problems.append(f"{what}: HUNG (killed after {outcome.elapsed:.0f}s)")
        return
    if outcome.maxrss_mb > MEMORY_WARN_MB:
        problems.append(f"{what}: used {outcome.maxrss_mb:.0f} MB of memory")
    if outcome.returncode == 0:
        problems.append(f"{what}: succeeded, it must be refused")
        return
    lines = [line for line in outcome.err.strip().splitlines() if line.startswith("gocrate")]
    if len(lines) != 1:
        problems.append(f"{what}: want one gocrate error line, got {outcome.err.strip()[-400:]!r}")
        return
    # A tuple is a choice: the error names one of them.
    missing = [t for t in texts if not any(x in lines[0] for x in (t if isinstance(t, tuple) else (t,)))]
    if missing:
        problems.append(f"{what}: the error {lines[0]!r} does not name {missing}")


def test_hostile_user_databases_fail_fast(store, work):
    attack_image(store, work)
    with cleaned(store):
        problems = []
        # Every command of an image at once: a hang costs HOSTILE_HANG seconds, not one per command.
        runs = {}
        for name, entries, path in HOSTILE:
            image = f"hostile-{name}"
            hostile_image(store, work, image, entries)
            user = "nobody" if name == "fifo-group" else "someuser"
            for what, args in [("run --rm", ["run", "--rm", image]),
                               (f"run --rm -u {user}", ["run", "--rm", "-u", user, image]),
                               ("run -d", ["run", "-d", "--name", f"d-{name}", image, "sleep"])]:
                runs[(image, what, path)] = Running(store, args, as_limit=MEMORY_CAP)
        for (image, what, path), running in runs.items():
            judge_refusal(f"{image}: {what}", running.finish(HOSTILE_HANG), [image, path], problems)
        removing = {name: Running(store, ["rm", "-f", f"d-{name}"]) for name, _, _ in HOSTILE}
        for name, running in removing.items():
            if running.finish(HOSTILE_HANG).timed_out:
                problems.append(f"hostile-{name}: rm -f HUNG")
        listed = gocrate(store, "ps", "-a", "-q", timeout=HOSTILE_HANG)
        if listed.timed_out or listed.text.split():
            problems.append(f"hostile images: containers left behind: {listed.text.split() or listed.describe()}")
        problems.extend(f"hostile images: cleanup: {h}" for h in remove_all(store, HOSTILE_HANG))

        # The same files made by a container's own root, then exec, health checks and rm -f.
        boxes = {}
        for name, _, path in HOSTILE:
            box = f"etc-{name}"
            detach(store, "--name", box, "-u", "0", "--health-cmd", "/app/attack nap 1", "--health-interval",
                   "200ms", "attack", "sleep", as_limit=MEMORY_CAP)
            wait_ready(store, box)
            must(gocrate(store, "exec", box, "/app/attack", "hostile-etc", name), f"{box}: make {path} hostile")
            boxes[box] = path
        execs = {}
        for box in boxes:
            execs[(box, "exec -u nonroot")] = Running(store, ["exec", "-u", "nonroot", box, "/app/attack", "exit",
                                                              "0"], as_limit=MEMORY_CAP)
            execs[(box, "exec as the container's user")] = Running(store, ["exec", box, "/app/attack", "exit", "0"],
                                                                   as_limit=MEMORY_CAP)
        for (box, what), running in execs.items():
            outcome = running.finish(HOSTILE_HANG)
            # A numeric user needs no database; refusing the file is fine too, hanging is not.
            if what == "exec -u nonroot" or outcome.timed_out or outcome.returncode != 0:
                judge_refusal(f"{box}: {what}", outcome, [boxes[box]], problems)
        time.sleep(1)  # health checks ran meanwhile
        for command in (["inspect"], ["rm", "-f"]):
            running = {box: Running(store, [*command, box]) for box in boxes}
            for box, r in running.items():
                outcome = r.finish(HOSTILE_HANG)
                if outcome.timed_out or outcome.returncode != 0:
                    problems.append(f"{box}: {outcome.describe()}")
        listed = gocrate(store, "ps", "-a", "-q", timeout=HOSTILE_HANG)
        if listed.timed_out or listed.text.split():
            problems.append(f"hostile containers: left behind: {listed.text.split() or listed.describe()}")
        problems.extend(f"hostile containers: cleanup: {h}" for h in remove_all(store, HOSTILE_HANG))
        report(problems, "with hostile user databases")


# ---- 7. volumes onto the runtime's own mounts -----------------------------------------------------

def test_volumes_over_runtime_mounts_and_the_store_are_refused(store, work):
    attack_image(store, work)
    with cleaned(store):
        problems = []
        source = os.path.join(work, "volume-source")
        os.makedirs(source)
        link = os.path.join(work, "link-to-store")
        os.symlink(store.path, link)
        # A volume elsewhere works: what is refused below is refused for where it goes.
        control = gocrate(store, "run", "--rm", "-v", f"{source}:/data", "attack", "exit", "0")
        check(control.returncode == 0, f"-v {source}:/data: {control.describe()}")
        cases = [(f"{source}:{target}", [names]) for target, names in [
            ("/proc", "/proc"), ("/proc/sys", "/proc/sys"), ("/sys", "/sys"), ("/sys/fs/cgroup", "/sys/fs/cgroup"),
            ("/dev", "/dev"), ("/dev/shm", "/dev/shm"), ("/proc/", "/proc"), ("/dev/./shm", ("/dev/./shm", "/dev/shm")),
            ("//sys", "/sys")]]
        # The store and anything inside it are refused. A directory that holds the store (as -v /:/host does)
        # is the user's explicit choice of the host's files, as in Docker, and stays allowed.
        layers = os.path.join(store.path, "layers")
        cases += [(f"{store.path}:/data", [store.path, "store"]), (f"{store.path}:/data:ro", [store.path, "store"]),
                  (f"{layers}:/data", [layers, "store"]), (f"{link}:/data", [(link, store.path), "store"])]
        for volume, texts in cases:
            outcome = gocrate(store, "run", "--rm", "-v", volume, "attack", "exit", "0")
            what = f"-v {volume}"
            judge_refusal(what, outcome, texts, problems)
            if not outcome.timed_out and outcome.returncode != 0 and "mqueue" in outcome.err:
                problems.append(f"{what}: misleading error {outcome.err.strip()!r}")
            if not outcome.timed_out and outcome.returncode not in (0, 125):
                problems.append(f"{what}: exit {outcome.returncode}, want 125")
        listed = gocrate(store, "ps", "-a", "-q")
        if listed.text.split():
            problems.append(f"containers left behind: {listed.text.split()}")
        report(problems, "with volumes")


if __name__ == "__main__":
    if os.geteuid() != 0:
        print("SKIP: the attack tests need root (namespaces, cgroups)")
        raise SystemExit(77)
    main(globals())
