// RawModel -> Graph (names resolved, domains checked, nodes sorted), and reading the file.
#include "onnx/onnx_import.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>
#include <queue>

#include "onnx/onnx_parse.h"

namespace fungen {
namespace {

using onnx_detail::RawGraph;
using onnx_detail::RawModel;
using onnx_detail::RawNode;
using onnx_detail::RawValueInfo;

constexpr const char* kReexportHint =
    "check that the file is complete and really an .onnx export (re-download it, or re-export "
    "with `yolo export model=<weights>.pt format=onnx`)";

bool is_default_domain(const std::string& domain) {
  return domain.empty() || domain == "ai.onnx";
}

std::string quoted(const std::string& s) {
  return "'" + s + "'";
}

Status not_an_onnx_model(const std::string& label, const std::string& why) {
  return corrupt(label + " is not an ONNX model (" + why + "); " + kReexportHint);
}

// What a few common non-ONNX files look like, for a friendlier message.
std::string sniff_format(std::span<const uint8_t> bytes) {
  auto starts = [&](const char* magic) {
    size_t n = std::strlen(magic);
    return bytes.size() >= n && std::memcmp(bytes.data(), magic, n) == 0;
  };
  if (starts("PK\x03\x04"))
    return "it is a zip archive, e.g. a PyTorch .pt file; export it to ONNX first";
  if (starts("\x89HDF")) return "it is an HDF5 file";
  if (starts("version https://git-lfs")) return "it is a Git LFS pointer, not the model itself";
  if (starts("<")) return "it looks like an HTML/XML page, not a model";
  return "";
}

Status set_declared(const RawValueInfo& info, Value& v, const char* role) {
  if (info.type_kind != "tensor") {
    if (info.type_kind == "none") return Status();  // no type written: nothing to declare
    return unsupported("graph " + std::string(role) + " " + quoted(info.name) + " is a " +
                       info.type_kind +
                       "; fungen runs models whose inputs and outputs are tensors");
  }
  if (info.elem_type != 0) {
    if (!dtype_is_known(info.elem_type) || info.elem_type == static_cast<int32_t>(DType::kString)) {
      return unsupported("graph " + std::string(role) + " " + quoted(info.name) +
                         " has element type " + dtype_name(static_cast<DType>(info.elem_type)) +
                         ", which fungen does not support");
    }
    if (v.dtype == DType::kUndefined) v.dtype = static_cast<DType>(info.elem_type);
  }
  v.declared_shape = info.has_shape;
  v.declared = info.dims;
  return Status();
}

int64_t default_opset(const RawModel& m, bool& found) {
  int64_t opset = 0;
  found = false;
  for (const auto& [domain, version] : m.opset_imports) {
    if (is_default_domain(domain)) {
      found = true;
      opset = std::max(opset, version);
    }
  }
  return opset;
}

// Kahn's algorithm, taking the lowest original index first so an ordered file keeps its order.
Status sort_nodes(std::vector<Node>& nodes, const std::vector<int>& producer_of, int64_t opset) {
  const size_t n = nodes.size();
  std::vector<int> pending(n, 0);
  std::vector<std::vector<int>> consumers(n);
  for (size_t i = 0; i < n; ++i) {
    for (int in : nodes[i].inputs) {
      if (in < 0) continue;
      int p = producer_of[static_cast<size_t>(in)];
      if (p < 0) continue;
      ++pending[i];
      consumers[static_cast<size_t>(p)].push_back(static_cast<int>(i));
    }
  }
  std::priority_queue<int, std::vector<int>, std::greater<int>> ready;
  for (size_t i = 0; i < n; ++i) {
    if (pending[i] == 0) ready.push(static_cast<int>(i));
  }
  std::vector<int> order;
  order.reserve(n);
  while (!ready.empty()) {
    int i = ready.top();
    ready.pop();
    order.push_back(i);
    for (int c : consumers[static_cast<size_t>(i)]) {
      if (--pending[static_cast<size_t>(c)] == 0) ready.push(c);
    }
  }
  if (order.size() != n) {
    for (size_t i = 0; i < n; ++i) {
      if (pending[i] > 0) {
        return corrupt("the graph has a cycle through " + nodes[i].describe(opset) +
                       "; ONNX graphs must be acyclic");
      }
    }
  }
  std::vector<Node> sorted;
  sorted.reserve(n);
  for (int i : order) sorted.push_back(std::move(nodes[static_cast<size_t>(i)]));
  nodes = std::move(sorted);
  return Status();
}

// Called once the nodes are built (all of the default domain by then): they need an ai.onnx
// opset import, except in IR < 3 files, which predate opset_import and mean opset 1.
Status check_opset(const RawModel& m, const std::vector<Node>& nodes, Graph& g) {
  bool found = false;
  g.opset = default_opset(m, found);
  if (found || nodes.empty()) return Status();
  if (m.ir_version < 3) {
    g.opset = 1;
    return Status();
  }
  return corrupt("the model imports no ai.onnx opset (opset_import) but uses ai.onnx ops, e.g. " +
                 nodes[0].describe(0));
}

Status build_graph(RawModel& m, Graph& g) {
  RawGraph& rg = m.graph;
  g.ir_version = m.ir_version;
  g.producer_name = m.producer_name;
  g.producer_version = m.producer_version;
  g.metadata = m.metadata;
  g.graph_name = rg.name;
  bool has_default_opset = false;
  g.opset = default_opset(m, has_default_opset);  // for messages; check_opset() decides
  if (rg.sparse_initializers) {
    return unsupported("the model has " + std::to_string(rg.sparse_initializers) +
                       " sparse initializer(s), which fungen does not read");
  }

  for (auto& [name, tensor] : rg.initializers) {
    if (name.empty()) return corrupt("an initializer has no name");
    if (g.find_value(name) >= 0)
      return corrupt("initializer " + quoted(name) + " is defined twice");
    Value& v = g.values[static_cast<size_t>(g.add_value(name))];
    v.dtype = tensor.dtype();
    v.shape = tensor.shape();
    v.shape_known = true;
    v.constant = std::move(tensor);
  }
  const size_t num_initializers = g.values.size();
  for (const RawValueInfo& info : rg.inputs) {
    if (info.name.empty()) return corrupt("a graph input has no name");
    int id = g.find_value(info.name);
    if (id >= 0) {
      if (static_cast<size_t>(id) < num_initializers) continue;  // a constant with a declaration
      return corrupt("graph input " + quoted(info.name) + " is declared twice");
    }
    id = g.add_value(info.name);
    FUNGEN_RETURN_IF_ERROR(set_declared(info, g.values[static_cast<size_t>(id)], "input"));
    if (g.values[static_cast<size_t>(id)].dtype == DType::kUndefined) {
      return corrupt("graph input " + quoted(info.name) + " has no element type");
    }
    g.inputs.push_back(id);
  }

  // Node outputs first (any order in the file), then inputs against every defined name.
  std::vector<Node> nodes(rg.nodes.size());
  std::vector<int> producer_of;  // value id -> index into `nodes`, -1 for inputs/constants
  for (size_t i = 0; i < rg.nodes.size(); ++i) {
    RawNode& rn = rg.nodes[i];
    Node& node = nodes[i];
    node.name = std::move(rn.name);
    node.op_type = std::move(rn.op_type);
    node.domain = is_default_domain(rn.domain) ? "" : rn.domain;
    for (auto& [key, attr] : rn.attributes) node.attributes[key] = std::move(attr);
    if (!node.domain.empty()) {
      int64_t version = 0;
      for (const auto& [domain, v] : m.opset_imports) {
        if (domain == node.domain) version = v;
      }
      return unsupported("node " + quoted(node.name.empty() ? "<unnamed>" : node.name) + " (" +
                         node.domain + "." + node.op_type + ", opset " + std::to_string(version) +
                         ") uses operator domain " + quoted(node.domain) +
                         ", which fungen does not support (only standard ai.onnx ops are); "
                         "re-export the model without custom or vendor ops");
    }
    for (const std::string& out : rn.outputs) {
      if (out.empty()) {
        node.outputs.push_back(-1);
        continue;
      }
      if (g.find_value(out) >= 0) {
        return corrupt(
            node.describe(g.opset) + " output " + quoted(out) +
            " is already defined (as a graph input, initializer or another node's output)");
      }
      node.outputs.push_back(g.add_value(out));
    }
  }
  FUNGEN_RETURN_IF_ERROR(check_opset(m, nodes, g));
  producer_of.assign(g.values.size(), -1);
  for (size_t i = 0; i < nodes.size(); ++i) {
    for (int out : nodes[i].outputs) {
      if (out >= 0) producer_of[static_cast<size_t>(out)] = static_cast<int>(i);
    }
  }
  for (size_t i = 0; i < nodes.size(); ++i) {
    for (const std::string& in : rg.nodes[i].inputs) {
      if (in.empty()) {
        nodes[i].inputs.push_back(-1);
        continue;
      }
      int id = g.find_value(in);
      if (id < 0) {
        return corrupt(nodes[i].describe(g.opset) + " reads " + quoted(in) +
                       ", which no graph input, initializer or node defines");
      }
      nodes[i].inputs.push_back(id);
    }
  }
  FUNGEN_RETURN_IF_ERROR(sort_nodes(nodes, producer_of, g.opset));
  g.nodes = std::move(nodes);

  if (rg.outputs.empty()) return corrupt("the graph declares no outputs");
  for (const RawValueInfo& info : rg.outputs) {
    int id = g.find_value(info.name);
    if (info.name.empty() || id < 0) {
      return corrupt("graph output " + quoted(info.name) +
                     " is not defined by any graph input, initializer or node");
    }
    FUNGEN_RETURN_IF_ERROR(set_declared(info, g.values[static_cast<size_t>(id)], "output"));
    g.outputs.push_back(id);
  }
  g.rebuild_producers();
  return Status();
}

}  // namespace

Result<Graph> import_onnx_model(std::span<const uint8_t> bytes, const std::string& label) {
  if (bytes.empty()) return not_an_onnx_model(label, "the file is empty");
  RawModel raw;
  Status s = onnx_detail::read_model(proto::Reader(bytes), raw);
  if (!s.ok()) {
    if (s.code() != StatusCode::kCorrupt) return s.with_context(label);
    std::string sniffed = sniff_format(bytes);
    return not_an_onnx_model(label, sniffed.empty() ? s.message() : sniffed);
  }
  if (!raw.has_graph) {
    std::string sniffed = sniff_format(bytes);
    return not_an_onnx_model(label, sniffed.empty() ? "it holds no graph" : sniffed);
  }
  if (raw.ir_version <= 0) return not_an_onnx_model(label, "it has no ir_version");
  Graph g;
  s = build_graph(raw, g);
  if (!s.ok()) return s.with_context(label);
  return g;
}

Result<Graph> import_onnx_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    if (err == ENOENT || err == ENOTDIR)
      return not_found("model file " + quoted(path) + " does not exist");
    return io_error("cannot open model file " + quoted(path) + ": " + std::strerror(err));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return invalid_argument(quoted(path) +
                            " is not a regular file; pass the path of an .onnx model");
  }
  const size_t size = static_cast<size_t>(st.st_size);
  if (size == 0) {
    ::close(fd);
    return not_an_onnx_model(path, "the file is empty");
  }
  void* map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  if (map != MAP_FAILED) {
    ::close(fd);
    Result<Graph> g =
        import_onnx_model(std::span<const uint8_t>(static_cast<const uint8_t*>(map), size), path);
    ::munmap(map, size);  // constants are owned copies, so the mapping can go
    return g;
  }
  std::vector<uint8_t> bytes(size);  // mmap refused (odd filesystem): read it instead
  size_t done = 0;
  while (done < size) {
    ssize_t n = ::read(fd, bytes.data() + done, size - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ::close(fd);
      return io_error("cannot read model file " + quoted(path));
    }
    done += static_cast<size_t>(n);
  }
  ::close(fd);
  return import_onnx_model(bytes, path);
}

}  // namespace fungen
