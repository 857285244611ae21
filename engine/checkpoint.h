// Checkpoints in the safetensors layout: an 8-byte little-endian header length, a JSON header
// mapping each tensor name to {dtype, shape, data_offsets}, then the raw little-endian data.
// Names are PyTorch's state_dict keys, so `safetensors.torch.load_file` reads kelvin's weights
// and kelvin reads PyTorch's. Files are written to a temporary name and renamed, so a crash
// never leaves a half-written checkpoint under the real name.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace kelvin {

struct NamedTensorRef {
    std::string name;
    Tensor tensor;
};

void save_safetensors(const std::string& path, const std::vector<NamedTensorRef>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

struct SafetensorsFile {
    std::map<std::string, Tensor> tensors;  // on the CPU
    std::map<std::string, std::string> metadata;
};
SafetensorsFile load_safetensors(const std::string& path);

// Replaces several files of one folder as a unit, so that a process killed at any moment
// leaves either all of the old files or all of the new ones (after recover_file_group). A run's
// weights, optimizer state and metrics must agree on the epoch, or a resumed run would silently
// continue from a mixed state. Files are staged as NAME.kelvin-staged and synced; commit()
// writes a journal naming them with their sizes and CRC-32s (the point of no return), renames
// each into place, syncs the folder, then removes the journal. Every write is fsynced, so this
// holds across power loss too; the checksums make recovery refuse a staged file that a lying
// disk, a full NFS server or another process left truncated or changed.
class FileGroupWriter {
public:
    explicit FileGroupWriter(std::filesystem::path dir);
    void add_safetensors(const std::string& name, const std::vector<NamedTensorRef>& tensors,
                         const std::map<std::string, std::string>& metadata = {});
    void add_text(const std::string& name, const std::string& text);
    void commit();
    // The journal commit() writes, naming each staged file with its size and CRC-32 (tests
    // write it themselves to stand for a process killed right after that write).
    std::string journal_text() const;

    struct Staged {
        std::string name;
        uint64_t bytes = 0;
        uint32_t crc32 = 0;
    };

private:
    std::filesystem::path dir_;
    std::vector<Staged> staged_;
};

struct FileGroupRecovery {
    enum class Outcome {
        nothing_to_do,   // no journal: staged files of a commit that never began were removed
        rolled_forward,  // an interrupted commit was completed: the new files are in place
        discarded,       // an interrupted commit's staged files were damaged: removed, and the
                         // previous files kept (none had been replaced yet)
    };
    Outcome outcome = Outcome::nothing_to_do;
    std::string message;  // for discarded: which file, what was expected and found
};

// Completes a group commit that was interrupted after its journal was written, once every
// staged file matches the size and CRC-32 the journal recorded, and deletes staged files
// (*.kelvin-staged) of a commit interrupted before. When a staged file does not match and no
// file of the group was replaced yet, the group is discarded and the previous files stay (the
// message says so, and is also printed to stderr). When some were already replaced, the folder
// holds two generations that cannot be reconciled: kelvin::Error, and nothing is touched.
// Journals of kelvin versions before checksums (a JSON list of names) are rolled forward after
// a structural check: a staged .safetensors file must be as long as its header says.
// Call it before reading a folder that a killed process may have been writing.
FileGroupRecovery recover_file_group(const std::filesystem::path& dir);

}  // namespace kelvin
