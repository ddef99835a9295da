#include "builtins.hpp"

#include "../registry/registry_access.hpp"

#include "../layers/basic_layers.hpp"
#include "../layers/conv2d.hpp"
#include "../layers/conv1d.hpp"
#include "../layers/dense.hpp"
#include "../layers/embedding.hpp"
#include "../layers/normalization.hpp"
#include "../layers/preprocessing.hpp"
#include "../layers/random_affine.hpp"
#include "../layers/recurrent.hpp"
#include "../layers/pooling.hpp"
#include "../layers/pooling1d.hpp"
#include "../layers/reshaping.hpp"
#include "../layers/sequence_layers.hpp"
#include "../losses/losses.hpp"
#include "../metrics/metrics.hpp"
#include "../optimizers/optimizers.hpp"
#include "../training/callbacks/csv_logger.hpp"
#include "../training/callbacks/early_stopping.hpp"
#include "../training/callbacks/history_plot.hpp"
#include "../training/callbacks/json_lines_logger.hpp"
#include "../training/callbacks/learning_rate_scheduler.hpp"
#include "../training/callbacks/reduce_lr_on_plateau.hpp"
#include "../training/callbacks/terminate_on_nan.hpp"
#include "../training/callbacks/backup_and_restore.hpp"
#include "../training/model_checkpoint.hpp"
#include "../layers/bidirectional.hpp"

namespace plugfit {

void register_builtins(Registry& types) {
  Registrar registry = RegistryAccess::builtins(types);
  registry.add_layer<Dense>("Dense");
  registry.add_layer<Activation>("Activation");
  registry.add_layer<Dropout>("Dropout");
  registry.add_layer<Flatten>("Flatten");
  registry.add_layer<InputLayer>("InputLayer");
  registry.add_layer<Conv2D>("Conv2D");
  registry.add_layer<DepthwiseConv2D>("DepthwiseConv2D");
  registry.add_layer<SeparableConv2D>("SeparableConv2D");
  registry.add_layer<Conv2DTranspose>("Conv2DTranspose");
  registry.add_layer<BatchNormalization>("BatchNormalization");
  registry.add_layer<Rescaling>("Rescaling");
  registry.add_layer<Normalization>("Normalization");
  registry.add_layer<Resizing>("Resizing");
  registry.add_layer<RandomFlip>("RandomFlip");
  registry.add_layer<RandomRotation>("RandomRotation");
  registry.add_layer<RandomZoom>("RandomZoom");
  registry.add_layer<RandomTranslation>("RandomTranslation");
  registry.add_layer<RandomContrast>("RandomContrast");
  registry.add_layer<MaxPooling2D>("MaxPooling2D");
  registry.add_layer<AveragePooling2D>("AveragePooling2D");
  registry.add_layer<GlobalMaxPooling2D>("GlobalMaxPooling2D");
  registry.add_layer<GlobalAveragePooling2D>("GlobalAveragePooling2D");
  registry.add_layer<Reshape>("Reshape");
  registry.add_layer<ZeroPadding2D>("ZeroPadding2D");
  registry.add_layer<Cropping2D>("Cropping2D");
  registry.add_layer<UpSampling2D>("UpSampling2D");
  registry.add_layer<SpatialDropout2D>("SpatialDropout2D");
  registry.add_layer<Embedding>("Embedding");
  registry.add_layer<Masking>("Masking");
  registry.add_layer<Conv1D>("Conv1D");
  registry.add_layer<MaxPooling1D>("MaxPooling1D");
  registry.add_layer<AveragePooling1D>("AveragePooling1D");
  registry.add_layer<GlobalMaxPooling1D>("GlobalMaxPooling1D");
  registry.add_layer<GlobalAveragePooling1D>("GlobalAveragePooling1D");
  registry.add_layer<LayerNormalization>("LayerNormalization");
  registry.add_layer<RepeatVector>("RepeatVector");
  registry.add_layer<TimeDistributed>("TimeDistributed");
  registry.add_layer<SimpleRNN>("SimpleRNN");
  registry.add_layer<LSTM>("LSTM");
  registry.add_layer<GRU>("GRU");
  registry.add_layer<Bidirectional>("Bidirectional");
  register_builtin_losses(registry);
  register_builtin_metrics(registry);
  register_builtin_optimizers(registry);
  registry.add_callback<ModelCheckpoint>("ModelCheckpoint");
  registry.add_callback<BackupAndRestore>("BackupAndRestore");
  registry.add_callback<EarlyStopping>("EarlyStopping");
  registry.add_callback<ReduceLROnPlateau>("ReduceLROnPlateau");
  registry.add_callback<LearningRateScheduler>("LearningRateScheduler");
  registry.add_callback<CSVLogger>("CSVLogger");
  registry.add_callback<JsonLinesLogger>("JsonLinesLogger");
  registry.add_callback<HistoryPlot>("HistoryPlot");
  registry.add_callback<TerminateOnNaN>("TerminateOnNaN");
}

}  // namespace plugfit
