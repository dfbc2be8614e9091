// record_codec.h — one detections-file record to bytes and back.
#pragma once

#include <string>
#include <string_view>

#include "video/writers/record_io.h"

namespace fungen::video {

// A JSON line ending in '\n', or one msgpack map.
std::string encode_record(const Json& record, RecordFormat format);

enum class DecodeOutcome { kOk, kIncomplete, kGarbled };
// Decodes the record at `offset` and advances `offset` past it on success.
DecodeOutcome decode_record(std::string_view bytes, size_t& offset, RecordFormat format, Json& out);

}  // namespace fungen::video
