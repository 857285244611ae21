#include "engine/checkpoint.h"

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>

#include "engine/json_errors.h"
#include "engine/memory_limit.h"
#include "engine/paths.h"

#include "engine/atomic_file.h"

namespace kelvin {

namespace {
namespace fs = std::filesystem;
using json = nlohmann::json;

std::string safetensors_dtype(DType t) { return t == DType::F32 ? "F32" : "I32"; }

uint32_t crc32_update(uint32_t crc, const char* data, size_t bytes) {
    while (bytes > 0) {  // zlib counts in uInt
        const uInt chunk = static_cast<uInt>(std::min<size_t>(bytes, 1u << 30));
        crc = static_cast<uint32_t>(::crc32(crc, reinterpret_cast<const Bytef*>(data), chunk));
        data += chunk;
        bytes -= chunk;
    }
    return crc;
}

// Writes head + tensor bytes to `path` and syncs it (the caller renames it into place).
// Returns its size and CRC-32, computed from the bytes as they were written.
FileGroupWriter::Staged write_bytes(const std::string& path, const std::string& head,
                                    const std::vector<NamedTensorRef>* tensors) {
    FileGroupWriter::Staged written;
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    KELVIN_CHECK(out.good(), "cannot write " + path);
    auto put = [&](const char* data, size_t bytes) {
        out.write(data, static_cast<std::streamsize>(bytes));
        written.crc32 = crc32_update(written.crc32, data, bytes);
        written.bytes += bytes;
    };
    put(head.data(), head.size());
    if (tensors)
        for (const auto& t : *tensors) {
            std::vector<char> bytes(t.tensor.numel() * dtype_size(t.tensor.dtype()));
            copy_bytes(bytes.data(), Device::CPU, t.tensor.data<char>(), t.tensor.device(),
                       bytes.size());
            put(bytes.data(), bytes.size());
        }
    out.flush();
    KELVIN_CHECK(out.good(), "write failed (is the disk full?): " + path);
    out.close();
    KELVIN_CHECK(!out.fail(), "write failed (is the disk full?): " + path);
    sync_path(path, false);
    return written;
}

void write_bytes_atomically(const std::string& path, const std::string& head,
                            const std::vector<NamedTensorRef>* tensors) {
    const std::string tmp = path + ".tmp";
    write_bytes(tmp, head, tensors);
    std::error_code ec;
    fs::rename(tmp, path, ec);
    KELVIN_CHECK(!ec, "cannot rename " + tmp + " to " + path + ": " + ec.message());
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
constexpr int kJournalVersion = 2;
}  // namespace

void save_safetensors(const std::string& path, const std::vector<NamedTensorRef>& tensors,
                      const std::map<std::string, std::string>& metadata) {
    write_bytes_atomically(path, safetensors_head(tensors, metadata), &tensors);
}

// ---- reading safetensors ----------------------------------------------------------------------

namespace {

struct HeaderEntry {
    DType dtype = DType::F32;
    Shape shape;
    uint64_t begin = 0, end = 0;
    bool skipped = false;  // PyTorch's int64 BatchNorm counter
};

// The header of a safetensors file: its JSON text and where the data begins.
struct Header {
    std::string text;
    json entries;
    uint64_t data_start = 0, data_size = 0;
};

// "'name' (file byte N)": where a header entry is, for a message.
std::string where(const Header& h, const std::string& name) {
    const size_t at = h.text.find(json(name).dump());
    return "'" + printable(name) + "'" +
           (at == std::string::npos ? "" : " (file byte " + std::to_string(8 + at) + ")");
}

// A scalar as written in the file; other values by their type (a dump of a deeply nested
// value could exhaust the stack).
std::string shown(const json& v) {
    if (v.is_primitive()) {
        std::string text = v.dump();
        return text.size() > 60 ? text.substr(0, 57) + "..." : text;
    }
    return json_type_phrase(v);
}

Header read_header(std::ifstream& in, const std::string& path) {
    require_regular_file(path, "checkpoint");
    std::error_code ec;
    const uint64_t file_size = fs::file_size(path, ec);
    KELVIN_CHECK(!ec, "checkpoint: " + path + ": cannot read its size: " + ec.message());
    KELVIN_CHECK(file_size >= 8, "checkpoint: " + path + ": " + std::to_string(file_size) +
                                     " bytes, too short for a safetensors header");
    unsigned char len_bytes[8];
    in.read(reinterpret_cast<char*>(len_bytes), 8);
    KELVIN_CHECK(in.good(), "checkpoint: " + path + ": cannot read the header length");
    uint64_t header_len = 0;
    for (int i = 0; i < 8; ++i) header_len |= uint64_t(len_bytes[i]) << (8 * i);
    KELVIN_CHECK(header_len <= file_size - 8, "checkpoint: " + path + ": header length " +
                                                  std::to_string(header_len) + " exceeds the file (" +
                                                  std::to_string(file_size) + " bytes)");
    Header h;
    h.text.resize(header_len);
    in.read(h.text.data(), static_cast<std::streamsize>(header_len));
    KELVIN_CHECK(in.good(), "checkpoint: " + path + ": cannot read the " +
                                std::to_string(header_len) + "-byte header");
    try {
        h.entries = json::parse(h.text);
    } catch (const json::parse_error& e) {
        throw Error("checkpoint: " + path + ": the header (file bytes 8-" +
                    std::to_string(8 + header_len) + ") is not valid JSON, at file byte " +
                    std::to_string(8 + (e.byte > 0 ? e.byte - 1 : 0)) + ": " + json_error_text(e));
    } catch (const json::exception& e) {  // e.g. a number too large for any C++ type
        throw Error("checkpoint: " + path + ": the header (file bytes 8-" +
                    std::to_string(8 + header_len) + ") cannot be read: " + json_error_text(e));
    }
    KELVIN_CHECK(h.entries.is_object(), "checkpoint: " + path + ": the header is " +
                                            json_type_phrase(h.entries) +
                                            ", expected a JSON object of tensors");
    h.data_start = 8 + header_len;
    h.data_size = file_size - h.data_start;
    return h;
}

bool is_batch_counter(const std::string& name) {
    const std::string counter = "num_batches_tracked";
    return name.size() >= counter.size() &&
           name.compare(name.size() - counter.size(), counter.size(), counter) == 0;
}

// One non-metadata entry, checked for types and bounds; errors name the tensor, the key and
// where it is in the file.
HeaderEntry parse_entry(const std::string& path, const Header& h, const std::string& name,
                        const json& entry) {
    auto fail = [&](const std::string& what) {
        throw Error("checkpoint: " + path + ": tensor " + where(h, name) + ": " + what);
    };
    if (!entry.is_object())
        fail("is " + json_type_phrase(entry) + ", expected an object with dtype, shape and data_offsets");
    for (const char* key : {"dtype", "shape", "data_offsets"})
        if (!entry.contains(key)) fail(std::string("has no '") + key + "'");
    const json& dtype = entry.at("dtype");
    if (!dtype.is_string()) fail("'dtype' is " + shown(dtype) + ", expected a string such as \"F32\"");
    const json& shape = entry.at("shape");
    if (!shape.is_array() ||
        !std::all_of(shape.begin(), shape.end(), [](const json& d) { return d.is_number_unsigned(); }))
        fail("'shape' is " + shown(shape) + ", expected a list of non-negative integers");
    const json& offsets = entry.at("data_offsets");
    if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() ||
        !offsets[1].is_number_unsigned())
        fail("'data_offsets' is " + shown(offsets) + ", expected [begin, end], two non-negative integers");
    HeaderEntry e;
    e.begin = offsets[0].get<uint64_t>();
    e.end = offsets[1].get<uint64_t>();
    const std::string type = dtype.get<std::string>();
    // PyTorch's BatchNorm keeps an int64 batch counter kelvin has no use for (it only
    // matters for momentum=None); skip it so PyTorch checkpoints load as they are.
    e.skipped = type == "I64" && is_batch_counter(name);
    if (e.skipped) return e;
    if (type != "F32" && type != "I32")
        fail("has dtype " + printable(type) + "; kelvin reads F32 and I32");
    e.dtype = type == "F32" ? DType::F32 : DType::I32;
    uint64_t bytes = 4;
    for (const json& d : shape) {
        const uint64_t dim = d.get<uint64_t>();
        const auto product = checked_product(bytes, dim);
        if (!product || dim > uint64_t(INT64_MAX)) fail("shape " + shape.dump() + " is impossibly large");
        bytes = *product;
        e.shape.push_back(static_cast<int64_t>(dim));
    }
    if (e.end < e.begin || e.end - e.begin != bytes || e.end > h.data_size)
        fail("data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end) +
             "] do not match its shape " + shape_to_string(e.shape) + " (" + std::to_string(bytes) +
             " bytes) or run past the end of the file (" + std::to_string(h.data_size) +
             " data bytes from file byte " + std::to_string(h.data_start) + ")");
    return e;
}

std::map<std::string, std::string> parse_metadata(const std::string& path, const Header& h,
                                                  const json& entry) {
    std::map<std::string, std::string> metadata;
    KELVIN_CHECK(entry.is_object(), "checkpoint: " + path + ": " + where(h, "__metadata__") + " is " +
                                        json_type_phrase(entry) + ", expected an object of strings");
    for (auto& [k, v] : entry.items()) {
        KELVIN_CHECK(v.is_string(), "checkpoint: " + path + ": metadata key " + where(h, k) + " is " +
                                        shown(v) + ", expected a string");
        metadata[k] = v.get<std::string>();
    }
    return metadata;
}

// The size a safetensors file must have to hold every tensor its header names.
uint64_t safetensors_expected_size(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    const Header h = read_header(in, path);
    uint64_t end = 0;
    for (auto& [name, entry] : h.entries.items())
        if (name != "__metadata__") end = std::max(end, parse_entry(path, h, name, entry).end);
    return h.data_start + end;
}

}  // namespace

SafetensorsFile load_safetensors(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    const Header h = read_header(in, path);
    KELVIN_CHECK(in.good(), "checkpoint: cannot open " + path);
    SafetensorsFile result;
    for (auto& [name, entry] : h.entries.items()) {
        if (name == "__metadata__") {
            result.metadata = parse_metadata(path, h, entry);
            continue;
        }
        const HeaderEntry e = parse_entry(path, h, name, entry);
        if (e.skipped) continue;
        Tensor t = Tensor::empty(e.shape, e.dtype);
        in.seekg(static_cast<std::streamoff>(h.data_start + e.begin));
        in.read(t.data<char>(), static_cast<std::streamsize>(e.end - e.begin));
        KELVIN_CHECK(in.good(), "checkpoint: " + path + ": could not read tensor " + where(h, name));
        result.tensors.emplace(name, t);
    }
    return result;
}

// ---- file groups ------------------------------------------------------------------------------

namespace {

// A name of a file inside the group's folder: the journal must not move files elsewhere.
void check_plain_name(const std::string& name, const std::string& source) {
    KELVIN_CHECK(!name.empty() && name != "." && name != ".." &&
                     name.find('/') == std::string::npos && name.find('\0') == std::string::npos,
                 "checkpoint: " + source + " names '" + printable(name) +
                     "', which is not a plain file name; the journal is damaged");
}

struct JournalEntry {
    std::string name;
    std::optional<uint64_t> bytes;   // absent in journals from before checksums
    std::optional<uint32_t> crc32;
};

std::vector<JournalEntry> read_journal(const fs::path& path) {
    const std::string source = path.string();
    const std::string expected =
        " should be {\"kelvin_file_group\": 2, \"files\": [{\"name\": ..., \"bytes\": ..., "
        "\"crc32\": ...}, ...]} or, from kelvin before checksums, a JSON list of file names";
    require_regular_file(source, "checkpoint");
    std::ifstream in(path, std::ios::binary);
    json j;
    try {
        j = json::parse(in);
    } catch (const json::exception& e) {
        throw Error("checkpoint: " + source + " is not valid JSON (" + json_error_text(e) + ");" +
                    expected);
    }
    std::vector<JournalEntry> entries;
    if (j.is_array()) {
        for (const json& n : j) {
            KELVIN_CHECK(n.is_string(), "checkpoint: " + source + expected);
            entries.push_back({n.get<std::string>(), std::nullopt, std::nullopt});
        }
    } else {
        const bool v2 = j.is_object() && j.value("kelvin_file_group", json()) == kJournalVersion &&
                        j.contains("files") && j.at("files").is_array();
        KELVIN_CHECK(v2, "checkpoint: " + source + expected);
        for (const json& f : j.at("files")) {
            const bool ok = f.is_object() && f.contains("name") && f.at("name").is_string() &&
                            f.contains("bytes") && f.at("bytes").is_number_unsigned() &&
                            f.contains("crc32") && f.at("crc32").is_number_unsigned() &&
                            f.at("crc32").get<uint64_t>() <= 0xffffffffu;
            KELVIN_CHECK(ok, "checkpoint: " + source + expected);
            entries.push_back({f.at("name").get<std::string>(), f.at("bytes").get<uint64_t>(),
                               static_cast<uint32_t>(f.at("crc32").get<uint64_t>())});
        }
    }
    for (const auto& e : entries) check_plain_name(e.name, source);
    return entries;
}

std::string hex32(uint32_t v) {
    char text[16];
    std::snprintf(text, sizeof text, "%08x", v);
    return text;
}

// The CRC-32 of a file's content, or nullopt when it cannot be read.
std::optional<uint32_t> file_crc32(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return std::nullopt;
    std::vector<char> buffer(1 << 20);
    uint32_t crc = 0;
    while (in) {
        in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
        crc = crc32_update(crc, buffer.data(), static_cast<size_t>(in.gcount()));
    }
    if (in.bad()) return std::nullopt;
    return crc;
}

// Empty when the file at `path` is what the journal recorded, else what differs.
std::string mismatch(const fs::path& path, const JournalEntry& e) {
    std::error_code ec;
    const uint64_t size = fs::file_size(path, ec);
    if (ec) return "cannot be read (" + ec.message() + ")";
    if (!e.bytes) {
        // A journal from before checksums: only a safetensors file can be checked, by its header.
        if (path.string().find(".safetensors") == std::string::npos) return "";
        try {
            const uint64_t expected = safetensors_expected_size(path.string());
            return expected == size ? "" : std::to_string(size) + " bytes, its header describes " +
                                               std::to_string(expected) + " (truncated or padded)";
        } catch (const Error& error) {
            return error.what();
        }
    }
    if (size != *e.bytes)
        return std::to_string(size) + " bytes, the journal recorded " + std::to_string(*e.bytes) +
               (size < *e.bytes ? " (truncated)" : "");
    const auto crc = file_crc32(path);
    if (!crc) return "cannot be read";
    if (*crc != *e.crc32)
        return "CRC-32 " + hex32(*crc) + ", the journal recorded " + hex32(*e.crc32) +
               " (the content changed after it was written)";
    return "";
}

void remove_file(const fs::path& path) {
    std::error_code ec;
    fs::remove(path, ec);
    KELVIN_CHECK(!ec, "checkpoint: cannot remove " + path.string() + ": " + ec.message());
}

void rename_file(const fs::path& from, const fs::path& to) {
    std::error_code ec;
    fs::rename(from, to, ec);
    KELVIN_CHECK(!ec, "checkpoint: cannot rename " + from.string() + " to " + to.string() + ": " +
                          ec.message());
}

// Rolls the journal's group forward when every file checks out; else discards it when nothing
// was replaced yet, or refuses (two generations mixed).
FileGroupRecovery finish_journal(const fs::path& dir) {
    const fs::path journal = dir / kJournal;
    const std::vector<JournalEntry> entries = read_journal(journal);
    std::vector<std::string> replaced;
    std::string problem;  // the first damaged file, with what differs
    for (const auto& e : entries) {
        const fs::path staged = dir / (e.name + kStagedSuffix);
        const bool was_renamed = !path_exists(staged.string(), "checkpoint");
        if (was_renamed) replaced.push_back(e.name);
        const fs::path file = was_renamed ? dir / e.name : staged;
        std::string why = path_exists(file.string(), "checkpoint")
                              ? mismatch(file, e)
                              : "missing (neither " + e.name + " nor its staged copy exists)";
        if (!why.empty() && problem.empty()) problem = file.string() + ": " + why;
    }
    if (problem.empty()) {
        for (const auto& e : entries) {
            const fs::path staged = dir / (e.name + kStagedSuffix);
            if (path_exists(staged.string(), "checkpoint")) rename_file(staged, dir / e.name);
        }
        sync_path(dir, true);
        remove_file(journal);
        sync_path(dir, true);
        return {FileGroupRecovery::Outcome::rolled_forward, ""};
    }
    if (!replaced.empty()) {
        std::string names;
        for (const auto& n : replaced) names += (names.empty() ? "" : ", ") + n;
        throw Error("checkpoint: " + dir.string() + ": an interrupted save cannot be completed: " +
                    problem + ", but " + names + " already hold the new save, so the folder mixes "
                    "two saves. Nothing was changed; restore the folder from a copy, or delete it "
                    "and start the run again");
    }
    for (const auto& e : entries) {
        const fs::path staged = dir / (e.name + kStagedSuffix);
        if (path_exists(staged.string(), "checkpoint")) remove_file(staged);
    }
    remove_file(journal);
    sync_path(dir, true);
    return {FileGroupRecovery::Outcome::discarded,
            "checkpoint: " + dir.string() + ": an interrupted save left " + problem +
                "; that save was discarded and the previous files kept, so a resumed run "
                "repeats the work since the previous save"};
}

}  // namespace

FileGroupWriter::FileGroupWriter(fs::path dir) : dir_(std::move(dir)) {}

void FileGroupWriter::add_safetensors(const std::string& name,
                                      const std::vector<NamedTensorRef>& tensors,
                                      const std::map<std::string, std::string>& metadata) {
    check_plain_name(name, "FileGroupWriter");
    Staged s = write_bytes((dir_ / (name + kStagedSuffix)).string(),
                           safetensors_head(tensors, metadata), &tensors);
    s.name = name;
    staged_.push_back(s);
}

void FileGroupWriter::add_text(const std::string& name, const std::string& text) {
    check_plain_name(name, "FileGroupWriter");
    Staged s = write_bytes((dir_ / (name + kStagedSuffix)).string(), text, nullptr);
    s.name = name;
    staged_.push_back(s);
}

std::string FileGroupWriter::journal_text() const {
    json files = json::array();
    for (const auto& s : staged_)
        files.push_back({{"name", s.name}, {"bytes", s.bytes}, {"crc32", s.crc32}});
    return json{{"kelvin_file_group", kJournalVersion}, {"files", files}}.dump() + "\n";
}

void FileGroupWriter::commit() {
    // Once the journal exists every staged file is complete and on disk (each was synced), so
    // recovery may roll forward after checking each against its recorded size and CRC-32; the
    // journal itself is synced before the first rename.
    write_file_atomically((dir_ / kJournal).string(), journal_text());
    for (const auto& s : staged_) rename_file(dir_ / (s.name + kStagedSuffix), dir_ / s.name);
    sync_path(dir_, true);
    remove_file(dir_ / kJournal);
    sync_path(dir_, true);
    staged_.clear();
}

FileGroupRecovery recover_file_group(const fs::path& dir) {
    require_folder(dir.string(), "checkpoint");
    FileGroupRecovery result;
    if (path_exists((dir / kJournal).string(), "checkpoint")) result = finish_journal(dir);
    if (result.outcome == FileGroupRecovery::Outcome::discarded)
        std::fprintf(stderr, "%s\n", result.message.c_str());
    // A journal write that was interrupted, and staged files without a journal: a group that
    // never committed.
    remove_file(dir / (std::string(kJournal) + ".tmp"));
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        const std::string file = it->path().filename().string();
        const std::string suffix = kStagedSuffix;
        if (file.size() > suffix.size() &&
            file.compare(file.size() - suffix.size(), suffix.size(), suffix) == 0)
            remove_file(it->path());
    }
    KELVIN_CHECK(!ec, "checkpoint: cannot list " + dir.string() + ": " + ec.message());
    return result;
}

}  // namespace kelvin
