#include "engine/checkpoint.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "engine/atomic_file.h"

namespace kelvin {

namespace {
using json = nlohmann::json;

std::string safetensors_dtype(DType t) { return t == DType::F32 ? "F32" : "I32"; }

// Writes head + tensor bytes to `path` and syncs it (the caller renames it into place).
void write_bytes(const std::string& path, const std::string& head,
                 const std::vector<NamedTensorRef>* tensors) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    KELVIN_CHECK(out.good(), "cannot write " + path);
    out.write(head.data(), static_cast<std::streamsize>(head.size()));
    if (tensors)
        for (const auto& t : *tensors) {
            std::vector<char> bytes(t.tensor.numel() * dtype_size(t.tensor.dtype()));
            copy_bytes(bytes.data(), Device::CPU, t.tensor.data<char>(), t.tensor.device(),
                       bytes.size());
            out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
        }
    out.flush();
    KELVIN_CHECK(out.good(), "write failed: " + path);
    out.close();
    sync_path(path, false);
}

void write_bytes_atomically(const std::string& path, const std::string& head,
                            const std::vector<NamedTensorRef>* tensors) {
    const std::string tmp = path + ".tmp";
    write_bytes(tmp, head, tensors);
    std::filesystem::rename(tmp, path);
    sync_path(parent_folder(path), true);
}

std::string safetensors_head(const std::vector<NamedTensorRef>& tensors,
                             const std::map<std::string, std::string>& metadata) {
    json header = json::object();
    if (!metadata.empty()) header["__metadata__"] = metadata;
    size_t offset = 0;
    for (const auto& t : tensors) {
        const size_t bytes = t.tensor.numel() * dtype_size(t.tensor.dtype());
        header[t.name] = {{"dtype", safetensors_dtype(t.tensor.dtype())},
                          {"shape", t.tensor.shape()},
                          {"data_offsets", {offset, offset + bytes}}};
        offset += bytes;
    }
    std::string text = header.dump();
    while ((text.size() + 8) % 8 != 0) text.push_back(' ');  // align data to 8 bytes
    std::string head(8, '\0');
    uint64_t n = text.size();
    for (int i = 0; i < 8; ++i) head[i] = static_cast<char>((n >> (8 * i)) & 0xff);
    return head + text;
}

constexpr const char* kJournal = ".kelvin-commit";
constexpr const char* kStagedSuffix = ".kelvin-staged";
}  // namespace

void save_safetensors(const std::string& path, const std::vector<NamedTensorRef>& tensors,
                      const std::map<std::string, std::string>& metadata) {
    write_bytes_atomically(path, safetensors_head(tensors, metadata), &tensors);
}

FileGroupWriter::FileGroupWriter(std::filesystem::path dir) : dir_(std::move(dir)) {}

void FileGroupWriter::add_safetensors(const std::string& name,
                                      const std::vector<NamedTensorRef>& tensors,
                                      const std::map<std::string, std::string>& metadata) {
    write_bytes((dir_ / (name + kStagedSuffix)).string(), safetensors_head(tensors, metadata),
                &tensors);
    names_.push_back(name);
}

void FileGroupWriter::add_text(const std::string& name, const std::string& text) {
    write_bytes((dir_ / (name + kStagedSuffix)).string(), text, nullptr);
    names_.push_back(name);
}

void FileGroupWriter::commit() {
    // Once the journal exists every staged file is complete and on disk (each was synced), so
    // recovery may roll forward; the journal itself is synced before the first rename.
    write_file_atomically((dir_ / kJournal).string(), json(names_).dump() + "\n");
    for (const auto& name : names_)
        std::filesystem::rename(dir_ / (name + kStagedSuffix), dir_ / name);
    sync_path(dir_, true);
    std::filesystem::remove(dir_ / kJournal);
    sync_path(dir_, true);
    names_.clear();
}

bool recover_file_group(const std::filesystem::path& dir) {
    namespace fs = std::filesystem;
    bool rolled_forward = false;
    if (fs::exists(dir / kJournal)) {
        std::ifstream in(dir / kJournal);
        json names;
        try {
            names = json::parse(in);
        } catch (const std::exception& e) {
            throw Error("checkpoint: " + (dir / kJournal).string() + " is not valid JSON: " +
                        e.what());
        }
        const bool list_of_names =
            names.is_array() &&
            std::all_of(names.begin(), names.end(), [](const json& n) { return n.is_string(); });
        KELVIN_CHECK(list_of_names, "checkpoint: " + (dir / kJournal).string() +
                                        " should be a JSON list of file names");
        for (const auto& n : names) {
            const fs::path staged = dir / (n.get<std::string>() + kStagedSuffix);
            // A missing staged file was renamed before the interruption.
            if (fs::exists(staged)) fs::rename(staged, dir / n.get<std::string>());
        }
        sync_path(dir, true);
        fs::remove(dir / kJournal);
        rolled_forward = true;
    }
    // A journal write that was interrupted, and staged files without a journal: a group that
    // never committed.
    fs::remove(dir / (std::string(kJournal) + ".tmp"));
    for (const auto& entry : fs::directory_iterator(dir)) {
        const std::string file = entry.path().filename().string();
        const std::string suffix = kStagedSuffix;
        if (file.size() > suffix.size() &&
            file.compare(file.size() - suffix.size(), suffix.size(), suffix) == 0)
            fs::remove(entry.path());
    }
    return rolled_forward;
}

SafetensorsFile load_safetensors(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    KELVIN_CHECK(in.good(), "checkpoint: cannot open " + path);
    const auto file_size = std::filesystem::file_size(path);
    KELVIN_CHECK(file_size >= 8, "checkpoint: " + path + ": " + std::to_string(file_size) +
                                     " bytes, too short for a safetensors header");
    unsigned char len_bytes[8];
    in.read(reinterpret_cast<char*>(len_bytes), 8);
    uint64_t header_len = 0;
    for (int i = 0; i < 8; ++i) header_len |= uint64_t(len_bytes[i]) << (8 * i);
    KELVIN_CHECK(header_len <= file_size - 8, "checkpoint: " + path + ": header length " +
                                                  std::to_string(header_len) + " exceeds the file");
    std::string text(header_len, '\0');
    in.read(text.data(), static_cast<std::streamsize>(header_len));
    json header;
    try {
        header = json::parse(text);
    } catch (const std::exception& e) {
        throw Error("checkpoint: " + path + ": header is not valid JSON: " + e.what());
    }
    const uint64_t data_start = 8 + header_len, data_size = file_size - data_start;
    SafetensorsFile result;
    for (auto& [name, entry] : header.items()) {
        if (name == "__metadata__") {
            for (auto& [k, v] : entry.items()) result.metadata[k] = v.get<std::string>();
            continue;
        }
        const std::string dtype = entry.at("dtype").get<std::string>();
        // PyTorch's BatchNorm keeps an int64 batch counter kelvin has no use for (it only
        // matters for momentum=None); skip it so PyTorch checkpoints load as they are.
        const std::string counter = "num_batches_tracked";
        if (dtype == "I64" && name.size() >= counter.size() &&
            name.compare(name.size() - counter.size(), counter.size(), counter) == 0)
            continue;
        KELVIN_CHECK(dtype == "F32" || dtype == "I32",
                     "checkpoint: " + path + ": tensor '" + name + "' has dtype " + dtype +
                         "; kelvin reads F32 and I32");
        Shape shape = entry.at("shape").get<Shape>();
        auto offsets = entry.at("data_offsets").get<std::vector<uint64_t>>();
        const uint64_t bytes = shape_numel(shape) * 4;
        KELVIN_CHECK(offsets.size() == 2 && offsets[1] - offsets[0] == bytes &&
                         offsets[1] <= data_size,
                     "checkpoint: " + path + ": tensor '" + name + "' offsets do not match its shape " +
                         shape_to_string(shape) + " or run past the end of the file");
        Tensor t = Tensor::empty(shape, dtype == "F32" ? DType::F32 : DType::I32);
        in.seekg(static_cast<std::streamoff>(data_start + offsets[0]));
        in.read(t.data<char>(), static_cast<std::streamsize>(bytes));
        KELVIN_CHECK(in.good(), "checkpoint: " + path + ": could not read tensor '" + name + "'");
        result.tensors.emplace(name, t);
    }
    return result;
}

}  // namespace kelvin
