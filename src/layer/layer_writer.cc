#include "layer/layer_writer.h"

namespace gocrate {

std::string layer_media_type(media_type::Compression compression) {
  switch (compression) {
    case media_type::Compression::gzip:
      return std::string(media_type::oci_layer_gzip);
    case media_type::Compression::zstd:
      return std::string(media_type::oci_layer_zstd);
    case media_type::Compression::none:
      break;
  }
  return std::string(media_type::oci_layer_tar);
}

LayerWriter::LayerWriter(CompressionSettings settings, Sink blob_sink)
    : settings_(settings),
      blob_sink_(std::move(blob_sink)),
      compressor_(settings,
                  [this](std::string_view compressed) {
                    blob_hash_.update(compressed);
                    blob_size_ += compressed.size();
                    blob_sink_(compressed);
                  }),
      tar_([this](std::string_view data) {
        // Hand each chunk to the compressors before hashing it, so that
        // hashing overlaps compression instead of preceding it.
        while (!data.empty()) {
          std::string_view piece = data.substr(0, ParallelCompressor::kChunkSize);
          compressor_.write(piece);
          diff_hash_.update(piece);
          data.remove_prefix(piece.size());
        }
      }) {}

LayerDigests LayerWriter::finish() {
  tar_.finish();
  compressor_.finish();
  LayerDigests out;
  out.diff_id = Digest::from_hex(diff_hash_.finish_hex());
  out.digest = Digest::from_hex(blob_hash_.finish_hex());
  out.size = blob_size_;
  out.media_type = layer_media_type(settings_.algorithm);
  return out;
}

}  // namespace gocrate
