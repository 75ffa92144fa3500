#pragma once
// Test data and configs shared by the lib/train tests: a 4-class problem on 8x8 images that a tiny
// NB201 network learns in a few steps.
#include <cstdint>
#include <random>

#include "alphax/train/trainer.hpp"

namespace alphax::train::testing {

// Class k has a bright 4x4 quadrant k, plus seeded noise.
inline ImageSet quadrant_set(std::int64_t count, std::uint64_t seed) {
  ImageSet set;
  set.count = count;
  set.channels = 1;
  set.height = 8;
  set.width = 8;
  set.num_classes = 4;
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int> noise(0, 60);
  for (std::int64_t i = 0; i < count; ++i) {
    const int k = static_cast<int>(i % 4);
    for (int h = 0; h < 8; ++h) {
      for (int w = 0; w < 8; ++w) {
        const bool on = (h / 4) == k / 2 && (w / 4) == k % 2;
        set.pixels.push_back(static_cast<std::uint8_t>((on ? 180 : 20) + noise(rng)));
      }
    }
    set.labels.push_back(k);
  }
  return set;
}

inline TrainConfig tiny_config() {
  TrainConfig c;
  c.epochs = 3;
  c.batch = 16;
  c.seed = 3;
  c.network.channels = 4;
  c.optimizer.lr = 0.05;
  c.schedule.name = "constant";
  return c;
}

inline const char* tiny_cell() { return "|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|"; }

inline NetworkSpec tiny_spec(const TrainConfig& c, const ImageSet& data) {
  return make_network_spec(c.network, parse_nb201_cell(tiny_cell()), data);
}

// The trainer keeps a reference to its validation set: an empty one that outlives every trainer.
inline const ImageSet kNoValidation{};

}  // namespace alphax::train::testing
