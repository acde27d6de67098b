#include "trust/keys.h"

#include <fcntl.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/objects.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <sodium.h>
#include <termios.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <mutex>
#include <nlohmann/json.hpp>

#include "transport/registry/base64.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/sha256.h"

namespace gocrate {

namespace {

constexpr std::string_view kSigstorePemType = "ENCRYPTED SIGSTORE PRIVATE KEY";
constexpr std::string_view kCosignPemType = "ENCRYPTED COSIGN PRIVATE KEY";
constexpr size_t kSaltSize = 32;
// Written as cosign's older releases (and skopeo) expect; the stronger
// parameters of newer go-securesystemslib releases are read as well.
constexpr uint64_t kScryptN = 32768, kScryptR = 8, kScryptP = 1;
// scrypt needs 128 * N * r * p bytes: 128 MiB for the strongest accepted N.
constexpr uint64_t kScryptMaxMem = uint64_t{256} << 20;

struct PkeyDeleter {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyDeleter>;

struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};

// OpenSSL's default initialisation parses openssl.cnf and loads every error
// string, which costs milliseconds per process; P-256 and SHA-256 need
// neither. First call wins, so this runs before any other OpenSSL call here.
void init_openssl() {
  static std::once_flag once;
  std::call_once(once, [] {
    OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG | OPENSSL_INIT_NO_LOAD_CRYPTO_STRINGS, nullptr);
  });
}

void init_sodium() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (sodium_init() < 0) fail("cannot initialise libsodium");
  });
}

std::string random_bytes(size_t size) {
  std::string out(size, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(size)) != 1)
    fail("cannot get random bytes from OpenSSL");
  return out;
}

struct PemBlock {
  std::string type;
  std::string der;
};

// The first PEM block of `text`, as Go's pem.Decode takes it.
PemBlock decode_pem(std::string_view text, std::string_view what) {
  constexpr std::string_view begin = "-----BEGIN ";
  size_t start = text.find(begin);
  if (start == std::string_view::npos) fail("{}: not a PEM file (no \"-----BEGIN\" line)", what);
  size_t type_start = start + begin.size();
  size_t type_end = text.find("-----", type_start);
  if (type_end == std::string_view::npos) fail("{}: malformed PEM \"BEGIN\" line", what);
  PemBlock block;
  block.type = std::string(text.substr(type_start, type_end - type_start));
  std::string end_line = "-----END " + block.type + "-----";
  size_t body_start = type_end + 5;
  size_t body_end = text.find(end_line, body_start);
  if (body_end == std::string_view::npos) fail("{}: PEM block \"{}\" has no END line", what, block.type);
  std::string_view body = text.substr(body_start, body_end - body_start);
  if (body.find(':') != std::string_view::npos)
    fail("{}: PEM block \"{}\" has headers (legacy PEM encryption); convert it to PKCS#8", what, block.type);
  std::string compact;
  for (char c : body)
    if (!std::isspace(static_cast<unsigned char>(c))) compact += c;
  auto der = base64_decode(compact);
  if (!der) fail("{}: PEM block \"{}\" is not valid base64", what, block.type);
  block.der = std::move(*der);
  return block;
}

std::string encode_pem(std::string_view type, std::string_view der) {
  std::string body = base64_encode(der);
  std::string out = fmt::format("-----BEGIN {}-----\n", type);
  for (size_t i = 0; i < body.size(); i += 64) out += body.substr(i, 64) + "\n";
  out += fmt::format("-----END {}-----\n", type);
  return out;
}

std::string openssl_error() {
  unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "unknown OpenSSL error";
  char buffer[256];
  ERR_error_string_n(code, buffer, sizeof buffer);
  return buffer;
}

// Refuses anything but an EC key on P-256, naming what it is.
void require_p256(EVP_PKEY* pkey, std::string_view what) {
  int id = EVP_PKEY_get_base_id(pkey);
  std::string kind;
  if (id == EVP_PKEY_EC) {
    char group[80] = {};
    size_t length = 0;
    if (EVP_PKEY_get_group_name(pkey, group, sizeof group, &length) == 1) {
      int nid = OBJ_sn2nid(group);
      if (nid == NID_undef) nid = EC_curve_nist2nid(group);
      if (nid == NID_X9_62_prime256v1) return;
      kind = fmt::format("an EC {} key", group);
    } else {
      kind = "an EC key with explicit curve parameters";
    }
  } else if (id == EVP_PKEY_RSA || id == EVP_PKEY_RSA_PSS) {
    kind = "an RSA key";
  } else if (id == EVP_PKEY_ED25519) {
    kind = "an Ed25519 key";
  } else {
    const char* name = EVP_PKEY_get0_type_name(pkey);
    kind = fmt::format("a {} key", name ? name : "non-EC");
  }
  fail("{}: {}; gocrate signs with ECDSA P-256 keys", what, kind);
}

PkeyPtr parse_private_der(std::string_view der, std::string_view what, std::string_view form) {
  auto* p = reinterpret_cast<const unsigned char*>(der.data());
  PkeyPtr pkey(d2i_AutoPrivateKey(nullptr, &p, static_cast<long>(der.size())));
  if (!pkey) fail("{}: not a valid {} private key: {}", what, form, openssl_error());
  require_p256(pkey.get(), what);
  return pkey;
}

std::string pkcs8_der(EVP_PKEY* pkey) {
  PKCS8_PRIV_KEY_INFO* info = EVP_PKEY2PKCS8(pkey);
  if (!info) fail("cannot encode the private key as PKCS#8: {}", openssl_error());
  unsigned char* der = nullptr;
  int length = i2d_PKCS8_PRIV_KEY_INFO(info, &der);
  PKCS8_PRIV_KEY_INFO_free(info);
  if (length <= 0) fail("cannot encode the private key as PKCS#8: {}", openssl_error());
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(length));
  OPENSSL_clear_free(der, static_cast<size_t>(length));
  return out;
}

// The SubjectPublicKeyInfo of every uncompressed P-256 key (what cosign and
// OpenSSL write) is this prefix and the 65-byte point. Building the key from
// the point skips OpenSSL's generic decoder, whose first use in a process
// costs milliseconds.
PkeyPtr p256_from_spki(std::string_view der) {
  static constexpr unsigned char kPrefix[] = {0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48,
                                              0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48,
                                              0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00};
  constexpr size_t kPointSize = 65;
  if (der.size() != sizeof kPrefix + kPointSize ||
      der.substr(0, sizeof kPrefix) !=
          std::string_view(reinterpret_cast<const char*>(kPrefix), sizeof kPrefix))
    return nullptr;
  std::string point(der.substr(sizeof kPrefix));
  char group[] = "prime256v1";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0),
      OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()),
      OSSL_PARAM_construct_end()};
  std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(
      EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr), EVP_PKEY_CTX_free);
  EVP_PKEY* pkey = nullptr;
  if (!ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
    return nullptr;
  return PkeyPtr(pkey);
}

std::string spki_der(EVP_PKEY* pkey) {
  unsigned char* der = nullptr;
  int length = i2d_PUBKEY(pkey, &der);
  if (length <= 0) fail("cannot encode the public key: {}", openssl_error());
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(length));
  OPENSSL_free(der);
  return out;
}

std::string scrypt_key(std::string_view passphrase, std::string_view salt, uint64_t n, uint64_t r,
                       uint64_t p) {
  std::string key(crypto_secretbox_KEYBYTES, '\0');
  if (EVP_PBE_scrypt(passphrase.data(), passphrase.size(),
                     reinterpret_cast<const unsigned char*>(salt.data()), salt.size(), n, r, p, kScryptMaxMem,
                     reinterpret_cast<unsigned char*>(key.data()), key.size()) != 1)
    fail("scrypt failed: {}", openssl_error());
  return key;
}

// go-securesystemslib's `encrypted` envelope (scrypt + NaCl secretbox).
std::string seal(std::string_view plaintext, std::string_view passphrase) {
  init_sodium();
  std::string salt = random_bytes(kSaltSize);
  std::string nonce = random_bytes(crypto_secretbox_NONCEBYTES);
  std::string key = scrypt_key(passphrase, salt, kScryptN, kScryptR, kScryptP);
  std::string sealed(plaintext.size() + crypto_secretbox_MACBYTES, '\0');
  crypto_secretbox_easy(reinterpret_cast<unsigned char*>(sealed.data()),
                        reinterpret_cast<const unsigned char*>(plaintext.data()), plaintext.size(),
                        reinterpret_cast<const unsigned char*>(nonce.data()),
                        reinterpret_cast<const unsigned char*>(key.data()));
  sodium_memzero(key.data(), key.size());
  nlohmann::ordered_json envelope = {
      {"kdf",
       {{"name", "scrypt"},
        {"params", {{"N", kScryptN}, {"r", kScryptR}, {"p", kScryptP}}},
        {"salt", base64_encode(salt)}}},
      {"cipher", {{"name", "nacl/secretbox"}, {"nonce", base64_encode(nonce)}}},
      {"ciphertext", base64_encode(sealed)},
  };
  return envelope.dump();
}

std::string open_sealed(std::string_view envelope_text, std::string_view what,
                        const std::function<std::string()>& passphrase) {
  init_sodium();
  nlohmann::json envelope = nlohmann::json::parse(envelope_text, nullptr, false);
  if (envelope.is_discarded() || !envelope.is_object()) fail("{}: the encrypted key is not valid JSON", what);
  auto string_at = [&](const nlohmann::json::json_pointer& pointer) -> std::string {
    if (!envelope.contains(pointer) || !envelope.at(pointer).is_string())
      fail("{}: the encrypted key has no string \"{}\"", what, pointer.to_string());
    return envelope.at(pointer).get<std::string>();
  };
  auto bytes_at = [&](const nlohmann::json::json_pointer& pointer) -> std::string {
    auto decoded = base64_decode(string_at(pointer));
    if (!decoded) fail("{}: the encrypted key's \"{}\" is not base64", what, pointer.to_string());
    return *decoded;
  };
  using Pointer = nlohmann::json::json_pointer;
  std::string kdf = string_at(Pointer("/kdf/name"));
  if (kdf != "scrypt") fail("{}: unknown key derivation \"{}\" (cosign keys use scrypt)", what, kdf);
  std::string cipher = string_at(Pointer("/cipher/name"));
  if (cipher != "nacl/secretbox")
    fail("{}: unknown cipher \"{}\" (cosign keys use nacl/secretbox)", what, cipher);
  auto number_at = [&](const char* path) -> uint64_t {
    Pointer pointer(path);
    if (!envelope.contains(pointer) || !envelope.at(pointer).is_number_unsigned())
      fail("{}: the encrypted key has no number \"{}\"", what, path);
    return envelope.at(pointer).get<uint64_t>();
  };
  uint64_t n = number_at("/kdf/params/N"), r = number_at("/kdf/params/r"), p = number_at("/kdf/params/p");
  bool supported = r == 8 && p == 1 && (n == 32768 || n == 65536 || n == 131072);
  if (!supported) fail("{}: unsupported scrypt parameters N={} r={} p={}", what, n, r, p);
  std::string salt = bytes_at(Pointer("/kdf/salt"));
  std::string nonce = bytes_at(Pointer("/cipher/nonce"));
  std::string sealed = bytes_at(Pointer("/ciphertext"));
  if (nonce.size() != crypto_secretbox_NONCEBYTES)
    fail("{}: the encrypted key's nonce is not 24 bytes", what);
  if (sealed.size() < crypto_secretbox_MACBYTES)
    fail("{}: the encrypted key's ciphertext is truncated", what);

  std::string key = scrypt_key(passphrase(), salt, n, r, p);
  std::string plaintext(sealed.size() - crypto_secretbox_MACBYTES, '\0');
  int status = crypto_secretbox_open_easy(reinterpret_cast<unsigned char*>(plaintext.data()),
                                          reinterpret_cast<const unsigned char*>(sealed.data()),
                                          sealed.size(), reinterpret_cast<const unsigned char*>(nonce.data()),
                                          reinterpret_cast<const unsigned char*>(key.data()));
  sodium_memzero(key.data(), key.size());
  if (status != 0) fail("decrypt {}: wrong passphrase", what);
  return plaintext;
}

}  // namespace

struct PrivateKey::Impl {
  PkeyPtr pkey;
};

struct PublicKey::Impl {
  PkeyPtr pkey;
  std::string der;  // SubjectPublicKeyInfo
};

PrivateKey::PrivateKey(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PrivateKey::PrivateKey(PrivateKey&&) noexcept = default;
PrivateKey& PrivateKey::operator=(PrivateKey&&) noexcept = default;
PrivateKey::~PrivateKey() = default;

PrivateKey PrivateKey::generate() {
  init_openssl();
  PkeyPtr pkey(EVP_EC_gen("P-256"));
  if (!pkey) fail("cannot generate an ECDSA P-256 key: {}", openssl_error());
  return PrivateKey(std::make_unique<Impl>(Impl{std::move(pkey)}));
}

PrivateKey PrivateKey::from_pem(std::string_view pem, std::string_view what,
                                const std::function<std::string()>& passphrase) {
  init_openssl();
  PemBlock block = decode_pem(pem, what);
  PkeyPtr pkey;
  if (block.type == kSigstorePemType || block.type == kCosignPemType) {
    std::string der = open_sealed(block.der, what, passphrase);
    pkey = parse_private_der(der, what, "PKCS#8");
    OPENSSL_cleanse(der.data(), der.size());
  } else if (block.type == "PRIVATE KEY") {
    pkey = parse_private_der(block.der, what, "PKCS#8");
  } else if (block.type == "EC PRIVATE KEY") {
    pkey = parse_private_der(block.der, what, "SEC1 EC");
  } else if (block.type == "RSA PRIVATE KEY") {
    fail("{}: an RSA key; gocrate signs with ECDSA P-256 keys", what);
  } else if (block.type == "ENCRYPTED PRIVATE KEY") {
    fail(
        "{}: a PKCS#8-encrypted key; import it with `cosign import-key-pair` or decrypt it with `openssl "
        "pkey`",
        what);
  } else {
    fail("{}: a \"{}\" PEM block, not a private key", what, block.type);
  }
  OPENSSL_cleanse(block.der.data(), block.der.size());
  return PrivateKey(std::make_unique<Impl>(Impl{std::move(pkey)}));
}

PrivateKey PrivateKey::load(const std::string& path, const std::function<std::string()>& passphrase) {
  std::string text = read_file(path);
  PrivateKey key = from_pem(text, path, passphrase);
  OPENSSL_cleanse(text.data(), text.size());
  return key;
}

std::string PrivateKey::encrypted_pem(std::string_view passphrase) const {
  std::string der = pkcs8_der(impl_->pkey.get());
  std::string sealed = seal(der, passphrase);
  OPENSSL_cleanse(der.data(), der.size());
  return encode_pem(kSigstorePemType, sealed);
}

PublicKey PrivateKey::public_key() const {
  std::string der = spki_der(impl_->pkey.get());
  auto* p = reinterpret_cast<const unsigned char*>(der.data());
  PkeyPtr pkey(d2i_PUBKEY(nullptr, &p, static_cast<long>(der.size())));
  if (!pkey) fail("cannot extract the public key: {}", openssl_error());
  return PublicKey(std::make_unique<PublicKey::Impl>(PublicKey::Impl{std::move(pkey), std::move(der)}));
}

std::string PrivateKey::sign(std::string_view data) const {
  std::unique_ptr<EVP_MD_CTX, MdCtxDeleter> ctx(EVP_MD_CTX_new());
  size_t length = 0;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, impl_->pkey.get()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &length, reinterpret_cast<const unsigned char*>(data.data()),
                     data.size()) != 1)
    fail("cannot sign: {}", openssl_error());
  std::string signature(length, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &length,
                     reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1)
    fail("cannot sign: {}", openssl_error());
  signature.resize(length);
  return signature;
}

PublicKey::PublicKey(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PublicKey::PublicKey(PublicKey&&) noexcept = default;
PublicKey& PublicKey::operator=(PublicKey&&) noexcept = default;
PublicKey::~PublicKey() = default;

PublicKey PublicKey::from_pem(std::string_view pem, std::string_view what) {
  init_openssl();
  PemBlock block = decode_pem(pem, what);
  if (block.type != "PUBLIC KEY") {
    if (block.type.find("PRIVATE KEY") != std::string::npos)
      fail("{}: a private key where a public key (\"PUBLIC KEY\" PEM) is wanted", what);
    fail("{}: a \"{}\" PEM block, not a public key (\"PUBLIC KEY\")", what, block.type);
  }
  PkeyPtr pkey = p256_from_spki(block.der);
  if (!pkey) {
    auto* p = reinterpret_cast<const unsigned char*>(block.der.data());
    pkey.reset(d2i_PUBKEY(nullptr, &p, static_cast<long>(block.der.size())));
  }
  if (!pkey) fail("{}: not a valid public key: {}", what, openssl_error());
  require_p256(pkey.get(), what);
  return PublicKey(std::make_unique<Impl>(Impl{std::move(pkey), std::move(block.der)}));
}

PublicKey PublicKey::load(const std::string& path) {
  return from_pem(read_file(path), path);
}

std::string PublicKey::pem() const {
  return encode_pem("PUBLIC KEY", impl_->der);
}

std::string PublicKey::fingerprint() const {
  return "sha256:" + sha256_hex(impl_->der);
}

bool PublicKey::verify(std::string_view data, std::string_view der_signature) const {
  std::unique_ptr<EVP_MD_CTX, MdCtxDeleter> ctx(EVP_MD_CTX_new());
  bool ok = ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, impl_->pkey.get()) == 1 &&
            EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(der_signature.data()),
                             der_signature.size(), reinterpret_cast<const unsigned char*>(data.data()),
                             data.size()) == 1;
  ERR_clear_error();
  return ok;
}

namespace {

class TerminalEchoOff {
 public:
  explicit TerminalEchoOff(int fd) : fd_(fd) {
    if (tcgetattr(fd_, &saved_) != 0) return;
    termios quiet = saved_;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    quiet.c_lflag |= ECHONL;
    active_ = tcsetattr(fd_, TCSAFLUSH, &quiet) == 0;
  }
  ~TerminalEchoOff() {
    if (active_) tcsetattr(fd_, TCSAFLUSH, &saved_);
  }
  TerminalEchoOff(const TerminalEchoOff&) = delete;
  TerminalEchoOff& operator=(const TerminalEchoOff&) = delete;

 private:
  int fd_;
  termios saved_{};
  bool active_ = false;
};

std::string ask(int fd, std::string_view prompt) {
  if (::write(fd, prompt.data(), prompt.size()) < 0) fail_errno("/dev/tty");
  TerminalEchoOff quiet(fd);
  std::string line;
  char c;
  for (;;) {
    ssize_t n = ::read(fd, &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail_errno("/dev/tty");
    if (n == 0 || c == '\n') break;
    line += c;
  }
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

}  // namespace

std::string read_passphrase(std::string_view prompt, bool confirm) {
  if (const char* value = std::getenv("GOCRATE_PASSWORD")) return value;
  if (const char* value = std::getenv("COSIGN_PASSWORD")) return value;
  int fd = ::open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
  if (fd < 0 || !isatty(fd)) {
    if (fd >= 0) ::close(fd);
    fail("no passphrase: set GOCRATE_PASSWORD or run on a terminal");
  }
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  std::string first = ask(fd, prompt);
  if (confirm) {
    std::string again(prompt);
    if (again.ends_with(": ")) again.resize(again.size() - 2);
    again += " again: ";
    if (ask(fd, again) != first) fail("the passphrases do not match");
  }
  return first;
}

}  // namespace gocrate
