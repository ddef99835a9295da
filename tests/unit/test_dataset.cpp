// Datasets by spec: Fashion-MNIST from the Debian package, CSV, synthetic data.
#include <doctest/doctest.h>

#include "dataset_test_support.hpp"

using namespace dataset_test;

TEST_CASE("Fashion-MNIST train and test load from the Debian package") {
  const Dataset train = plugfit::load_dataset("fashion-mnist:train");
  CHECK(train.spec == "fashion-mnist:train");
  REQUIRE(shape(train.x) == std::vector<std::size_t>{60000, 28, 28});
  REQUIRE(shape(train.y) == std::vector<std::size_t>{60000});
  CHECK(train.size() == 60000);
  CHECK(train.sample_shape() == plugfit::Shape{28, 28});
  CHECK(train.has_labels());
  CHECK(train.y(0) == 9.f);  // the first training image is an ankle boot
  CHECK(xt::amin(train.y)() == 0.f);
  CHECK(xt::amax(train.y)() == 9.f);
  CHECK(xt::amin(train.x)() == 0.f);
  CHECK(xt::amax(train.x)() == 1.f);
  // Every class appears 6000 times in the training split.
  std::vector<int> per_class(10, 0);
  for (float v : train.y) ++per_class.at(static_cast<std::size_t>(v));
  CHECK(std::all_of(per_class.begin(), per_class.end(), [](int n) { return n == 6000; }));
  // Pixels are exactly k / 255.
  for (std::size_t i = 0; i < 784; ++i) {
    const float p = train.x.data()[i] * 255.f;
    CHECK(p == static_cast<float>(static_cast<int>(p + 0.5f)));
  }

  const Dataset test = plugfit::load_dataset("fashion-mnist:test");
  CHECK(shape(test.x) == std::vector<std::size_t>{10000, 28, 28});
  CHECK(shape(test.y) == std::vector<std::size_t>{10000});
  CHECK(xt::amin(test.y)() == 0.f);
  CHECK(xt::amax(test.y)() == 9.f);
  CHECK(xt::amin(test.x)() >= 0.f);
  CHECK(xt::amax(test.x)() <= 1.f);

  // read_idx alone keeps u8 data unscaled.
  const Tensor raw = plugfit::read_idx("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz");
  CHECK(xt::amax(raw)() == 255.f);
  CHECK(raw.data()[1000] == test.x.data()[1000] * 255.f);

  const std::string msg = input_error([] { plugfit::load_dataset("fashion-mnist:validation"); });
  CHECK(contains(msg, "fashion-mnist:test"));
}

TEST_CASE("a missing Fashion-MNIST names the path and the package") {
  ScopedEnv env("PLUGFIT_FASHION_MNIST_DIR", "/nonexistent");
  const std::string msg = input_error([] { plugfit::load_dataset("fashion-mnist:train"); });
  CHECK(contains(msg, "/nonexistent/train-images-idx3-ubyte.gz"));
  CHECK(contains(msg, "apt-get install dataset-fashion-mnist"));
}

TEST_CASE("PLUGFIT_FASHION_MNIST_DIR points at another copy, whose counts must agree") {
  TempDir dir;
  // Three 2x2 images and only two labels.
  write_gz(dir.file("t10k-images-idx3-ubyte.gz"), idx_header(0x08, {3, 2, 2}) + std::string(12, '\x33'));
  write_gz(dir.file("t10k-labels-idx1-ubyte.gz"), idx_header(0x08, {2}) + std::string("\x01\x02", 2));
  ScopedEnv env("PLUGFIT_FASHION_MNIST_DIR", dir.path().c_str());
  const std::string msg = input_error([] { plugfit::load_dataset("fashion-mnist:test"); });
  CHECK(contains(msg, dir.file("t10k-images-idx3-ubyte.gz")));
  CHECK(contains(msg, dir.file("t10k-labels-idx1-ubyte.gz")));
  CHECK(contains(msg, "3 samples but 2 labels"));

  write_gz(dir.file("t10k-labels-idx1-ubyte.gz"), idx_header(0x08, {3}) + std::string("\x01\x02\x07", 3));
  const Dataset d = plugfit::load_dataset("fashion-mnist:test");
  CHECK(shape(d.x) == std::vector<std::size_t>{3, 2, 2});
  CHECK(d.x(2, 1, 1) == 0x33 / 255.f);
  CHECK(d.y(2) == 7.f);
}

TEST_CASE("csv with a header and a label column") {
  TempDir dir;
  const std::string path = dir.file("iris.csv");
  write_file(path,
             "sepal_length,species,\"petal, width\"\r\n"
             "5.1, 0 ,0.2\r\n"
             "\r\n"
             "4.9,2,+1e-1\r\n"
             "6.3,1,-2.5\r\n");
  Dataset d = plugfit::read_csv(path, "label=species");
  REQUIRE(shape(d.x) == std::vector<std::size_t>{3, 2});
  REQUIRE(shape(d.y) == std::vector<std::size_t>{3});
  CHECK(d.x(0, 0) == 5.1f);
  CHECK(d.x(1, 1) == 0.1f);
  CHECK(d.x(2, 1) == -2.5f);
  CHECK(d.y(0) == 0.f);
  CHECK(d.y(1) == 2.f);

  d = plugfit::read_csv(path, "label=1");
  CHECK(d.y(2) == 1.f);

  // By default the last column is the label; through load_dataset the options follow the path.
  d = plugfit::load_dataset("csv:" + path);
  CHECK(d.y(2) == -2.5f);
  CHECK(d.x(2, 1) == 1.f);
  d = plugfit::load_dataset("csv:" + path + ",label=none");
  CHECK(shape(d.x) == std::vector<std::size_t>{3, 3});
  CHECK_FALSE(d.has_labels());
  d = plugfit::load_dataset("csv:" + path + ",label=-3,header=yes");
  CHECK(d.y(1) == 4.9f);

  // Without a header row, header=auto reads the first row as data.
  const std::string plain = dir.file("plain.csv");
  write_file(plain, "1,2,3\n4,5,6\n");
  d = plugfit::read_csv(plain, "");
  CHECK(shape(d.x) == std::vector<std::size_t>{2, 2});
  CHECK(d.y(0) == 3.f);
  d = plugfit::read_csv(plain, "header=yes,label=0");
  CHECK(shape(d.x) == std::vector<std::size_t>{1, 2});
  CHECK(d.y(0) == 4.f);
}

TEST_CASE("csv errors name the file, the line and the column") {
  TempDir dir;
  const std::string path = dir.file("bad.csv");
  write_file(path, "a,b,label\n1,2,0\n\n3,x7,1\n");
  std::string msg = input_error([&] { plugfit::read_csv(path, ""); });
  CHECK(contains(msg, path));
  CHECK(contains(msg, "line 4"));
  CHECK(contains(msg, "column 2"));
  CHECK(contains(msg, "\"x7\""));

  write_file(path, "1,2,0\n3,4\n");
  msg = input_error([&] { plugfit::read_csv(path, ""); });
  CHECK(contains(msg, path));
  CHECK(contains(msg, "line 2 has 2 columns"));

  write_file(path, "1,2,0\n3,,1\n");
  msg = input_error([&] { plugfit::read_csv(path, "header=no"); });
  CHECK(contains(msg, "line 2, column 2"));

  write_file(path, "a,b\n1,2\n");
  CHECK(contains(input_error([&] { plugfit::read_csv(path, "label=c"); }), "no column named \"c\""));
  CHECK(contains(input_error([&] { plugfit::read_csv(path, "label=2"); }), "label=2"));
  CHECK(contains(input_error([&] { plugfit::read_csv(path, "header=maybe"); }), "header=maybe"));
  CHECK(contains(input_error([&] { plugfit::read_csv(path, "delimiter=;"); }), "\"delimiter\""));
  CHECK(contains(input_error([&] { plugfit::read_csv(dir.file("none.csv"), ""); }), "does not exist"));

  write_file(path, "a,b\n");
  CHECK(contains(input_error([&] { plugfit::read_csv(path, ""); }), "no data rows"));
}

TEST_CASE("synthetic data is deterministic per seed") {
  const Dataset a = plugfit::load_dataset("synthetic:samples=50,features=7,classes=4,seed=3");
  const Dataset b = plugfit::load_dataset("synthetic:samples=50,features=7,classes=4,seed=3");
  const Dataset c = plugfit::load_dataset("synthetic:samples=50,features=7,classes=4,seed=4");
  REQUIRE(shape(a.x) == std::vector<std::size_t>{50, 7});
  REQUIRE(shape(a.y) == std::vector<std::size_t>{50});
  CHECK(a.x == b.x);
  CHECK(a.y == b.y);
  CHECK(a.x != c.x);
  CHECK(a.y != c.y);
  CHECK(xt::amin(a.y)() == 0.f);
  CHECK(xt::amax(a.y)() == 3.f);
  // Standard normal: mean near 0, variance near 1 over many draws.
  const Dataset big = plugfit::load_dataset("synthetic:samples=20000,features=5");
  CHECK(std::abs(xt::mean(big.x)()) < 0.02);
  CHECK(std::abs(xt::variance(big.x)() - 1.0) < 0.03);
  std::vector<int> per_class(10, 0);
  for (float v : big.y) ++per_class.at(static_cast<std::size_t>(v));
  for (int n : per_class) CHECK(std::abs(n - 2000) < 200);

  // Defaults: 100 samples, 10 features, 10 classes; x does not depend on the kind of labels.
  const Dataset def = plugfit::load_dataset("synthetic");
  CHECK(shape(def.x) == std::vector<std::size_t>{100, 10});
  const Dataset lin = plugfit::load_dataset("synthetic:labels=linear");
  CHECK(def.x == lin.x);
}

TEST_CASE("synthetic linear labels follow one fixed rule across seeds") {
  const Dataset train = plugfit::load_dataset("synthetic:samples=2000,features=6,classes=3,labels=linear");
  const Dataset valid = plugfit::load_dataset("synthetic:samples=2000,features=6,classes=3,labels=linear,seed=9");
  // Recover the rule from train by nearest class mean and check it transfers to the other seed.
  xt::xarray<double> means = xt::zeros<double>({3, 6});
  std::vector<double> counts(3, 0);
  for (std::size_t i = 0; i < 2000; ++i) {
    const auto k = static_cast<std::size_t>(train.y(i));
    counts[k] += 1;
    for (std::size_t j = 0; j < 6; ++j) means(k, j) += train.x(i, j);
  }
  for (std::size_t k = 0; k < 3; ++k) {
    CHECK(counts[k] > 200);  // every class occurs
    for (std::size_t j = 0; j < 6; ++j) means(k, j) /= counts[k];
  }
  int agree = 0;
  for (std::size_t i = 0; i < 2000; ++i) {
    std::size_t best = 0;
    double best_score = -1e300;
    for (std::size_t k = 0; k < 3; ++k) {
      double s = 0;
      for (std::size_t j = 0; j < 6; ++j) s += valid.x(i, j) * means(k, j);
      if (s > best_score) best_score = s, best = k;
    }
    agree += static_cast<float>(best) == valid.y(i);
  }
  CHECK(agree > 1700);

  // classes=1: binary 0/1 labels, random or by the sign of x @ w.
  for (const char* labels : {"random", "linear"}) {
    CAPTURE(labels);
    const Dataset bin = plugfit::load_dataset(std::string("synthetic:samples=500,classes=1,labels=") + labels);
    CHECK(xt::amin(bin.y)() == 0.f);
    CHECK(xt::amax(bin.y)() == 1.f);
    CHECK(xt::sum(bin.y)() > 150.f);
    CHECK(xt::sum(bin.y)() < 350.f);
  }
}

TEST_CASE("bad synthetic options and unknown spec kinds") {
  std::string msg = input_error([] { plugfit::load_dataset("synthetic:samples=10,colour=red"); });
  CHECK(contains(msg, "\"colour\""));
  CHECK(contains(msg, "samples, features, classes, seed, labels"));
  CHECK(contains(input_error([] { plugfit::load_dataset("synthetic:samples=0"); }), "samples=0"));
  CHECK(contains(input_error([] { plugfit::load_dataset("synthetic:features=ten"); }), "features=ten"));
  CHECK(contains(input_error([] { plugfit::load_dataset("synthetic:labels=spiral"); }), "labels=spiral"));
  CHECK(contains(input_error([] { plugfit::load_dataset("synthetic:seed"); }), "\"seed\""));

  msg = input_error([] { plugfit::load_dataset("parquet:data.parquet"); });
  CHECK(contains(msg, "\"parquet\""));
  CHECK(contains(msg, "fashion-mnist, idx, csv, npy, synthetic"));
  msg = input_error([] { plugfit::load_dataset("train.csv"); });
  CHECK(contains(msg, "fashion-mnist, idx, csv, npy, synthetic"));
  CHECK(contains(input_error([] { plugfit::load_dataset("csv:"); }), "names no CSV file"));
  CHECK(contains(input_error([] { plugfit::load_dataset("npy:/nonexistent/x.npy"); }), "/nonexistent/x.npy"));
}
