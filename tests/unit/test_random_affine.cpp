// RandomRotation, RandomZoom and RandomTranslation: exact maps checked against loops written here.
#include <doctest/doctest.h>

#include <cmath>
#include <deque>

#include <plugfit/registry.hpp>
#include <plugfit/testing.hpp>

#include "builtins/builtins.hpp"
#include "layers/build_context.hpp"
#include "test_support.hpp"

using namespace plugfit;
using namespace plugfit::test;

namespace {

struct Built {
  std::unique_ptr<Layer> layer;
  std::deque<Weight> weights;
  Rng rng;
  SampleStreams samples{rng};
  Built(const std::string& class_name, const Json& config, const Shape& input_shape, std::uint64_t seed = 3) : rng(seed) {
    layer = builtins().create_layer(class_name, config);
    layer->set_name("aug");
    WeightCollector ctx(weights, "aug", rng, samples);
    layer->build(input_shape, ctx);
  }
};



}  // namespace

TEST_CASE("the geometric augmentations are the identity in inference and fixed by the seed in training") {
  const Tensor x = ramp({4, 5, 6, 2});
  for (const Json& spec : {Json{{"class_name", "RandomRotation"}, {"config", {{"factor", 0.2}}}},
                           Json{{"class_name", "RandomZoom"}, {"config", {{"height_factor", 0.3}}}},
                           Json{{"class_name", "RandomTranslation"}, {"config", {{"height_factor", 0.2}, {"width_factor", 0.3}}}}}) {
    const std::string cls = spec["class_name"];
    CAPTURE(cls);
    Built a(cls, spec["config"], {5, 6, 2}, 9), b(cls, spec["config"], {5, 6, 2}, 9), c(cls, spec["config"], {5, 6, 2}, 10);
    CHECK(&a.layer->forward(x, false) == &x);
    const Tensor y = a.layer->forward(x, true);
    CHECK(y == b.layer->forward(x, true));
    CHECK(y != c.layer->forward(x, true));
    CHECK(y != x);
    auto layer = builtins().create_layer(cls, spec["config"]);
    testing::GradientCheckOptions options;
    options.batch = 2;
    const auto result = testing::check_layer_gradients(*layer, {4, 5, 2}, options);
    INFO(result.report);
    CHECK(result.passed);
    Json config = a.layer->get_config();
    config.erase("name");
    Json again = builtins().create_layer(cls, config)->get_config();
    again.erase("name");
    CHECK(again == config);
  }
}

TEST_CASE("RandomRotation by a quarter and a half turn moves pixels as a rotation about the center") {
  const Tensor x = ramp({1, 4, 4, 1});
  Built quarter("RandomRotation", {{"factor", {0.25, 0.25}}}, {4, 4, 1});
  const Tensor q = quarter.layer->forward(x, true);
  Built half("RandomRotation", {{"factor", {0.5, 0.5}}, {"interpolation", "nearest"}}, {4, 4, 1});
  const Tensor h = half.layer->forward(x, true);
  for (std::size_t r = 0; r < 4; ++r)
    for (std::size_t c = 0; c < 4; ++c) {
      // out(r, c) reads x = cos c - sin r + offset, y = sin c + cos r + offset.
      CHECK(q(0, r, c, 0) == doctest::Approx(x(0, c, 3 - r, 0)).epsilon(1e-4));
      CHECK(h(0, r, c, 0) == x(0, 3 - r, 3 - c, 0));
    }
}

TEST_CASE("RandomTranslation by whole pixels, with each fill_mode") {
  const Tensor x = ramp({1, 4, 3, 1});
  // Down by one row (height_factor 1/4 of 4 rows): row 0 reads row -1.
  auto shifted = [&](double factor, const char* fill) {
    Built t("RandomTranslation", {{"height_factor", {factor, factor}}, {"width_factor", 0.0}, {"fill_mode", fill}, {"fill_value", 7.0}},
            {4, 3, 1});
    return Tensor(t.layer->forward(x, true));
  };
  const Tensor reflect = shifted(0.25, "reflect"), wrap = shifted(0.25, "wrap"), nearest = shifted(0.25, "nearest"),
               constant = shifted(0.25, "constant");
  for (std::size_t c = 0; c < 3; ++c) {
    for (std::size_t r = 1; r < 4; ++r) CHECK(reflect(0, r, c, 0) == doctest::Approx(x(0, r - 1, c, 0)));
    CHECK(reflect(0, 0, c, 0) == doctest::Approx(x(0, 0, c, 0)));
    CHECK(wrap(0, 0, c, 0) == doctest::Approx(x(0, 3, c, 0)));
    CHECK(nearest(0, 0, c, 0) == doctest::Approx(x(0, 0, c, 0)));
    CHECK(constant(0, 0, c, 0) == doctest::Approx(7.0));
  }
  // Up by two rows: rows 2 and 3 read rows 4 and 5, reflected as 3 and 2, wrapped as 0 and 1.
  const Tensor up_reflect = shifted(-0.5, "reflect"), up_wrap = shifted(-0.5, "wrap"), up_nearest = shifted(-0.5, "nearest");
  for (std::size_t c = 0; c < 3; ++c) {
    CHECK(up_reflect(0, 2, c, 0) == doctest::Approx(x(0, 3, c, 0)));
    CHECK(up_reflect(0, 3, c, 0) == doctest::Approx(x(0, 2, c, 0)));
    CHECK(up_wrap(0, 2, c, 0) == doctest::Approx(x(0, 0, c, 0)));
    CHECK(up_wrap(0, 3, c, 0) == doctest::Approx(x(0, 1, c, 0)));
    CHECK(up_nearest(0, 3, c, 0) == doctest::Approx(x(0, 3, c, 0)));
  }
}

TEST_CASE("RandomZoom zooms about the center; width_factor null keeps the aspect ratio") {
  const Tensor x = ramp({1, 5, 5, 1});
  Built out("RandomZoom", {{"height_factor", {1.0, 1.0}}, {"fill_mode", "constant"}}, {5, 5, 1});  // zoom 2: out
  const Tensor y = out.layer->forward(x, true);
  CHECK(y(0, 2, 2, 0) == doctest::Approx(x(0, 2, 2, 0)));
  CHECK(y(0, 1, 3, 0) == doctest::Approx(x(0, 0, 4, 0)));  // x = 2 * 3 - 2, y = 2 * 1 - 2
  CHECK(y(0, 0, 0, 0) == doctest::Approx(0.0));            // outside: the fill value
  Built in("RandomZoom", {{"height_factor", {-0.5, -0.5}}, {"width_factor", {0.0, 0.0}}}, {5, 5, 1});  // rows only
  const Tensor z = in.layer->forward(x, true);
  for (std::size_t c = 0; c < 5; ++c) {
    CHECK(z(0, 2, c, 0) == doctest::Approx(x(0, 2, c, 0)));
    CHECK(z(0, 0, c, 0) == doctest::Approx(x(0, 1, c, 0)));  // y = 0.5 * 0 + 1
    CHECK(z(0, 1, c, 0) == doctest::Approx(0.5 * (x(0, 1, c, 0) + x(0, 2, c, 0))));
  }
}

TEST_CASE("the geometric augmentations' bad options are one sentence naming the layer") {
  CHECK(error_of([] { builtins().create_layer("RandomRotation", {{"factor", 0.1}, {"fill_mode", "mirror"}}); }) ==
        "RandomRotation: \"fill_mode\" must be \"reflect\", \"wrap\", \"nearest\" or \"constant\", got \"mirror\"");
  CHECK(error_of([] { builtins().create_layer("RandomZoom", {{"height_factor", {0.5, 0.1}}}); }) ==
        "RandomZoom: \"height_factor\" must give lower <= upper within [-1, 1], got [0.5,0.1]");
  CHECK(error_of([] { builtins().create_layer("RandomTranslation", {{"height_factor", 0.1}}); }).find("width_factor") !=
        std::string::npos);
  CHECK(error_of([] { builtins().create_layer("RandomRotation", {{"factor", 0.1}, {"seed", 1}}); }) ==
        "RandomRotation: the option \"seed\" is not supported; the run's seed fixes the augmentation");
  CHECK(error_of([] { Built b("RandomRotation", {{"factor", 0.1}}, {5, 5}); }) ==
        "layer \"aug\" (RandomRotation) expects input of shape (None, height, width, channels), got (None, 5, 5)");
}
