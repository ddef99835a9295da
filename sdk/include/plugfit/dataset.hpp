// In-memory datasets and the data specs that name them.
//
//   fashion-mnist:train | fashion-mnist:test   the Debian package dataset-fashion-mnist
//   idx:IMAGES,LABELS                           IDX files, gzipped or not
//   csv:PATH[,label=COLUMN|none][,header=auto|yes|no]   last column is the label by default
//   npy:X.npy[,Y.npy]                           NumPy arrays (float32/64, int, uint8)
//   synthetic:samples=N,features=F,classes=C[,seed=S][,labels=random|linear]
//
// Image data (IDX, Fashion-MNIST) is scaled to [0, 1]. Inputs are float32 (n, ...) and labels
// float32 (n,) class indices (or (n, k) targets from npy).
#pragma once

#include <cstddef>
#include <string>

#include "export.hpp"
#include "tensor.hpp"

namespace plugfit {

// A Dataset is plain data: fill x (and y) yourself, or load one by spec.
struct Dataset {
  std::string spec;  // where it came from, for messages
  Tensor x;          // (n, sample_shape...)
  Tensor y;          // (n,) or (n, k); empty for inputs-only data (predict)
  std::size_t size() const { return x.dimension() == 0 ? 0 : x.shape()[0]; }
  Shape sample_shape() const { return Shape(x.shape().begin() + 1, x.shape().end()); }
  bool has_labels() const { return y.dimension() > 0 && y.size() > 0; }
};

// ensures: the data the spec names, or InputError naming the file and what is wrong (for a
// missing Fashion-MNIST, the path and the package).
PLUGFIT_API Dataset load_dataset(const std::string& spec);

}  // namespace plugfit
