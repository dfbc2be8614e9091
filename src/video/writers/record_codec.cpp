// record_codec.cpp — one record to bytes and back: JSON lines, or msgpack via msgpack-cxx.
#include "video/writers/record_codec.h"

#include <msgpack.hpp>

namespace fungen::video {
namespace {

void pack(msgpack::packer<msgpack::sbuffer>& pk, const Json& j) {
  using T = Json::value_t;
  switch (j.type()) {
    case T::boolean:
      j.get<bool>() ? pk.pack_true() : pk.pack_false();
      break;
    case T::number_integer:
      pk.pack_int64(j.get<int64_t>());
      break;
    case T::number_unsigned:
      pk.pack_uint64(j.get<uint64_t>());
      break;
    case T::number_float:
      pk.pack_double(j.get<double>());
      break;
    case T::string: {
      const auto& s = j.get_ref<const std::string&>();
      pk.pack_str(static_cast<uint32_t>(s.size()));
      pk.pack_str_body(s.data(), static_cast<uint32_t>(s.size()));
      break;
    }
    case T::array:
      pk.pack_array(static_cast<uint32_t>(j.size()));
      for (const Json& e : j) pack(pk, e);
      break;
    case T::object:
      pk.pack_map(static_cast<uint32_t>(j.size()));
      for (auto it = j.begin(); it != j.end(); ++it) {
        pk.pack_str(static_cast<uint32_t>(it.key().size()));
        pk.pack_str_body(it.key().data(), static_cast<uint32_t>(it.key().size()));
        pack(pk, it.value());
      }
      break;
    default:
      pk.pack_nil();
      break;
  }
}

Json unpack_object(const msgpack::object& o) {
  switch (o.type) {
    case msgpack::type::BOOLEAN:
      return o.via.boolean;
    case msgpack::type::POSITIVE_INTEGER:
      return o.via.u64;
    case msgpack::type::NEGATIVE_INTEGER:
      return o.via.i64;
    case msgpack::type::FLOAT32:
    case msgpack::type::FLOAT64:
      return o.via.f64;
    case msgpack::type::STR:
      return std::string(o.via.str.ptr, o.via.str.size);
    case msgpack::type::ARRAY: {
      Json a = Json::array();
      for (uint32_t i = 0; i < o.via.array.size; ++i)
        a.push_back(unpack_object(o.via.array.ptr[i]));
      return a;
    }
    case msgpack::type::MAP: {
      Json m = Json::object();
      for (uint32_t i = 0; i < o.via.map.size; ++i) {
        const msgpack::object_kv& kv = o.via.map.ptr[i];
        std::string key = kv.key.type == msgpack::type::STR
                              ? std::string(kv.key.via.str.ptr, kv.key.via.str.size)
                              : std::string("?");
        m[key] = unpack_object(kv.val);
      }
      return m;
    }
    default:
      return nullptr;
  }
}

}  // namespace

std::string encode_record(const Json& record, RecordFormat format) {
  if (format == RecordFormat::kJsonl) return record.dump() + "\n";
  msgpack::sbuffer buf;
  msgpack::packer<msgpack::sbuffer> pk(buf);
  pack(pk, record);
  return std::string(buf.data(), buf.size());
}

DecodeOutcome decode_record(std::string_view bytes, size_t& offset, RecordFormat format,
                            Json& out) {
  if (offset >= bytes.size()) return DecodeOutcome::kIncomplete;
  if (format == RecordFormat::kJsonl) {
    size_t nl = bytes.find('\n', offset);
    if (nl == std::string_view::npos) return DecodeOutcome::kIncomplete;
    out = Json::parse(bytes.substr(offset, nl - offset), nullptr, /*allow_exceptions=*/false);
    if (out.is_discarded() || !out.is_object()) return DecodeOutcome::kGarbled;
    offset = nl + 1;
    return DecodeOutcome::kOk;
  }
  size_t off = offset;
  try {
    msgpack::object_handle oh = msgpack::unpack(bytes.data(), bytes.size(), off);
    out = unpack_object(oh.get());
  } catch (const msgpack::insufficient_bytes&) {
    return DecodeOutcome::kIncomplete;
  } catch (const std::exception&) {
    return DecodeOutcome::kGarbled;
  }
  if (!out.is_object()) return DecodeOutcome::kGarbled;
  offset = off;
  return DecodeOutcome::kOk;
}

}  // namespace fungen::video
