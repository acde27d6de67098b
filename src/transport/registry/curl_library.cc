#include "transport/registry/curl_library.h"

#include <dlfcn.h>

#include <mutex>

#include "util/error.h"

namespace gocrate {

namespace {

constexpr const char* kSoname = "libcurl.so.4";

template <typename Function>
void resolve(void* handle, Function& slot, const char* name) {
  slot = reinterpret_cast<Function>(::dlsym(handle, name));
  if (!slot) {
    fail("{} has no {}: gocrate needs libcurl 7.66 or newer (Debian package libcurl4)", kSoname, name);
  }
}

CurlLibrary load() {
  void* handle = ::dlopen(kSoname, RTLD_LAZY | RTLD_LOCAL);
  if (!handle) {
    const char* why = ::dlerror();
    fail(
        "cannot load {} ({}), which gocrate needs to talk to registries: install it (apt-get install "
        "libcurl4)",
        kSoname, why ? why : "not found");
  }
  CurlLibrary curl;
  CURLcode (*global_init)(long) = nullptr;
  resolve(handle, global_init, "curl_global_init");
  resolve(handle, curl.easy_init, "curl_easy_init");
  resolve(handle, curl.easy_setopt, "curl_easy_setopt");
  resolve(handle, curl.easy_getinfo, "curl_easy_getinfo");
  resolve(handle, curl.easy_cleanup, "curl_easy_cleanup");
  resolve(handle, curl.easy_reset, "curl_easy_reset");
  resolve(handle, curl.easy_pause, "curl_easy_pause");
  resolve(handle, curl.easy_strerror, "curl_easy_strerror");
  resolve(handle, curl.slist_append, "curl_slist_append");
  resolve(handle, curl.slist_free_all, "curl_slist_free_all");
  resolve(handle, curl.share_init, "curl_share_init");
  resolve(handle, curl.share_setopt, "curl_share_setopt");
  resolve(handle, curl.share_cleanup, "curl_share_cleanup");
  resolve(handle, curl.multi_init, "curl_multi_init");
  resolve(handle, curl.multi_add_handle, "curl_multi_add_handle");
  resolve(handle, curl.multi_remove_handle, "curl_multi_remove_handle");
  resolve(handle, curl.multi_perform, "curl_multi_perform");
  resolve(handle, curl.multi_poll, "curl_multi_poll");
  resolve(handle, curl.multi_info_read, "curl_multi_info_read");
  resolve(handle, curl.multi_cleanup, "curl_multi_cleanup");
  if (CURLcode code = global_init(CURL_GLOBAL_DEFAULT); code != CURLE_OK) {
    fail("cannot initialise {} (error {})", kSoname, static_cast<int>(code));
  }
  return curl;
}

}  // namespace

const CurlLibrary& curl_library() {
  static std::once_flag once;
  static CurlLibrary library;
  static std::string error;
  std::call_once(once, [] {
    try {
      library = load();
    } catch (const Error& e) {
      error = e.what();
    }
  });
  if (!error.empty()) throw Error(error);
  return library;
}

}  // namespace gocrate
