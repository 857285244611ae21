// CIFAR-10 and CIFAR-100 in their official binary layout.
#pragma once

#include <string>

#include "data/host_dataset.h"

namespace kelvin::data {

// Reads data_batch_1..5.bin (train) or test_batch.bin (test): records of 1 label byte + 3072 pixel
// bytes (1024 R, 1024 G, 1024 B, row-major 32x32), i.e. already NCHW. `dir` may be the folder holding
// the batches or its parent holding cifar-10-batches-bin/. Class names come from batches.meta.txt
// when present, else the official ten names.
HostDataset load_cifar10(const std::string& dir, bool train);

// Reads train.bin or test.bin: records of coarse label byte, fine label byte, 3072 pixel bytes.
// Labels are the 100 fine classes, or the 20 coarse superclasses when `coarse`. `dir` may be the
// folder itself or its parent holding cifar-100-binary/. Class names come from fine_label_names.txt /
// coarse_label_names.txt when present, else the official names.
HostDataset load_cifar100(const std::string& dir, bool train, bool coarse = false);

}  // namespace kelvin::data
