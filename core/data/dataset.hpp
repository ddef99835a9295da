// In-memory datasets and the data specs of the command line and run files.
//
//   fashion-mnist:train | fashion-mnist:test   the Debian package dataset-fashion-mnist
//   idx:IMAGES,LABELS                           IDX files, gzipped or not
//   csv:PATH[,label=COLUMN|none][,header=auto|yes|no]   last column is the label by default
//   npy:X.npy[,Y.npy]                           NumPy arrays (float32/64, int, uint8)
//   synthetic:samples=N,features=F,classes=C[,seed=S][,labels=random|linear]
//
// Image data (IDX, Fashion-MNIST) is scaled to [0, 1]. Inputs are float32 (n, ...) and labels
// float32 (n,) class indices (or (n, k) targets from npy). Every error is an InputError
// naming the file and what is wrong (for a missing Fashion-MNIST, the path and the package).
#pragma once

#include <cstddef>
#include <string>

#include <plugfit/dataset.hpp>
#include <plugfit/tensor.hpp>

namespace plugfit {

// Dataset and load_dataset are public: plugfit/dataset.hpp.

// Readers behind the specs, usable alone.
Tensor read_idx(const std::string& path);  // any IDX file; u8 data stays 0..255 (not scaled)
Tensor read_npy(const std::string& path);  // float32 tensor of the array's shape
void write_npy(const std::string& path, const Tensor& t);  // float32, C order
// The bytes before the data of a float32, C-order .npy file of this shape, as numpy writes them.
std::string npy_preamble(const Shape& shape);
Dataset read_csv(const std::string& path, const std::string& options);

}  // namespace plugfit
