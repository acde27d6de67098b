#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "image/media_types.h"
#include "util/byte_reader.h"

namespace gocrate {

// A reader of the uncompressed bytes of `in` (gzip with any number of
// members, zstd with any number of frames, or none). `what` names the blob in
// errors about corrupt data.
std::unique_ptr<ByteReader> decompressing_reader(ByteReader& in, media_type::Compression compression,
                                                 std::string what);

// Detects gzip and zstd by their magic numbers.
media_type::Compression sniff_compression(std::string_view first_bytes);

}  // namespace gocrate
