// Fashion-MNIST with plugfit's C++ API: Keras's Sequential, compile, fit, evaluate.
// Exits 0 only when the test accuracy reaches 0.85.
#include <cstdio>
#include <string>

#include <plugfit/plugfit.hpp>

int main(int argc, char** argv) try {
  const std::string checkpoints = argc > 1 ? argv[1] : "dir:fashion_mnist_checkpoints";
  const plugfit::Dataset train = plugfit::load_dataset("fashion-mnist:train");
  const plugfit::Dataset test = plugfit::load_dataset("fashion-mnist:test");

  plugfit::Context context;  // the built-in types; plugins would load here by name
  plugfit::Sequential model({plugfit::Input({28, 28}), plugfit::layer("Flatten"),
                             plugfit::layer("Dense", {{"units", 256}, {"activation", "relu"}}),
                             plugfit::layer("Dense", {{"units", 10}, {"activation", "softmax"}})},
                            context);
  model.compile({.optimizer = {{"class_name", "Adam"}, {"config", {{"learning_rate", 0.001}}}},
                 .loss = "sparse_categorical_crossentropy",
                 .metrics = {"accuracy"}});

  plugfit::LambdaCallback report({.on_epoch_end = [](int epoch, plugfit::Logs& logs) {
    std::printf("epoch %d: loss %.4f, val_accuracy %.4f\n", epoch + 1, logs.at("loss"), logs.at("val_accuracy"));
  }});
  auto best = plugfit::callbacks::ModelCheckpoint(
      {.filepath = checkpoints + "/best", .monitor = "val_accuracy", .save_best_only = true});

  plugfit::FitOptions options;  // keras.Model.fit's arguments
  options.epochs = 2;
  options.batch_size = 64;
  options.validation_split = 0.1;
  options.verbose = 0;
  options.seed = 42;
  options.callbacks = {&report, best};
  model.fit(train, options);

  const double accuracy = model.evaluate(test, 256).at("accuracy");
  std::printf("test accuracy: %.4f\n", accuracy);
  return accuracy >= 0.85 ? 0 : 1;
} catch (const plugfit::Error& e) {
  std::fprintf(stderr, "fashion_mnist: %s\n", e.what());
  return e.exit_code();
}
