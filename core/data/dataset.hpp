// In-memory datasets and the data specs of the command line and run files.
//
//   fashion-mnist:train | fashion-mnist:test   the Debian package dataset-fashion-mnist
//   idx:IMAGES,LABELS                           IDX files, gzipped or not
//   csv:PATH[,label=COLUMN|none][,header=auto|yes|no]   last column is the label by default
//   npy:X.npy[,Y.npy]                           NumPy arrays (float32/64, int, uint8)
//   synthetic:samples=N,features=F,classes=C[,seed=S][,labels=random|linear]
//   tokens:PATH[,maxlen=N][,padding=pre|post][,truncating=pre|post][,value=V][,label=first|none]
//                                               token lists, padded as Keras's pad_sequences
//
// uint8 inputs (IDX, Fashion-MNIST, npy images) are scaled to [0, 1] by 1/255; labels and other
// dtypes never are. Inputs are float32 (n, ...) and labels
// float32 (n,) class indices (or (n, k) targets from npy). Every error is an InputError
// naming the file and what is wrong (for a missing Fashion-MNIST, the path and the package).
//
// Sequences need no kind of their own: token ids (n, steps) from an int32/int64 npy or a CSV
// become float32 exactly (every integer below 2^24, the most an Embedding's input_dim may be);
// float sequences are npy (n, steps, features); Fashion-MNIST's (n, 28, 28) images are 28 steps
// of 28 features to a model declared on (28, 28). How samples meet the model's input shape is
// fit.cpp's one rule (feeds_input_shape).
#pragma once

#include <cstddef>
#include <string>

#include <plugfit/dataset.hpp>
#include <plugfit/tensor.hpp>

namespace plugfit {

// Dataset and load_dataset are public: plugfit/dataset.hpp.

// Readers behind the specs, usable alone.
Tensor read_idx(const std::string& path);  // any IDX file; u8 data stays 0..255 (not scaled)
Dataset read_csv(const std::string& path, const std::string& options);

// predict's side (predict_io.cpp). The inputs: a bare X.npy or X.csv path, or a data spec; a
// csv: input takes every column as a feature unless label= names one (train's default is the
// last column).
Dataset load_inputs(const std::string& input);
// Predictions as the output file's extension says: .csv (one row per sample, the sample's values
// flattened, "%.9g", no header) or .npy (float32). check_predictions_path refuses any other
// extension, so predict can call it before any work.
void check_predictions_path(const std::string& path);
void write_predictions(const std::string& path, const Tensor& predictions);

}  // namespace plugfit
