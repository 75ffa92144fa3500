#include "alphax/train/dataset.hpp"

#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <numeric>
#include <random>
#include <stdexcept>
#include <utility>
#include <cstdio>

namespace alphax::train {
namespace {

constexpr std::uint32_t kIdxImagesMagic = 0x00000803;
constexpr std::uint32_t kIdxLabelsMagic = 0x00000801;
constexpr std::int64_t kCifarSide = 32;
constexpr std::int64_t kCifarChannels = 3;
constexpr std::int64_t kCifarRecord = 1 + kCifarChannels * kCifarSide * kCifarSide;

struct GzClose {
  void operator()(gzFile_s* f) const noexcept { gzclose(f); }
};
using GzFile = std::unique_ptr<gzFile_s, GzClose>;

// A file read through zlib: gzip-compressed or raw content alike.
class CompressedReader {
 public:
  CompressedReader(const std::filesystem::path& path, std::string where) : path_(path), where_(std::move(where)) {
    if (!std::filesystem::exists(path)) {
      throw std::runtime_error(where_ + ": file '" + path.string() +
                               "' does not exist; check the data directory (data.dir / --data-dir) or install "
                               "the data set (scripts/setup.sh installs Fashion-MNIST)");
    }
    file_.reset(gzopen(path.c_str(), "rb"));
    if (!file_) throw std::runtime_error(where_ + ": cannot open '" + path.string() + "' for reading");
    gzbuffer(file_.get(), 1 << 20);
  }

  // Reads exactly `size` bytes or throws, naming the file and what was being read.
  void read(void* out, std::size_t size, const char* what) {
    auto* dst = static_cast<unsigned char*>(out);
    std::size_t done = 0;
    while (done < size) {
      const auto chunk = static_cast<unsigned>(std::min<std::size_t>(size - done, 1u << 30));
      const int got = gzread(file_.get(), dst + done, chunk);
      if (got < 0) {
        int err = 0;
        const char* msg = gzerror(file_.get(), &err);
        throw std::runtime_error(where_ + ": '" + path_.string() + "' is corrupt (" + msg +
                                 "); re-download or reinstall the data set");
      }
      if (got == 0) {
        throw std::runtime_error(where_ + ": '" + path_.string() + "' is truncated: " + std::to_string(done) +
                                 " of " + std::to_string(size) + " bytes of " + what +
                                 "; re-download or reinstall the data set");
      }
      done += static_cast<std::size_t>(got);
    }
  }

  std::uint32_t read_be32(const char* what) {
    unsigned char b[4];
    read(b, 4, what);
    return (std::uint32_t{b[0]} << 24) | (std::uint32_t{b[1]} << 16) | (std::uint32_t{b[2]} << 8) | b[3];
  }

 private:
  std::filesystem::path path_;
  std::string where_;
  GzFile file_;
};

std::string hex(std::uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "0x%08x", v);
  return buf;
}

void check_magic(const std::filesystem::path& path, std::uint32_t magic, std::uint32_t expected, const char* kind) {
  if (magic != expected) {
    throw std::runtime_error("read_idx: '" + path.string() + "' has magic number " + hex(magic) + ", expected " +
                             hex(expected) + " for an IDX " + kind +
                             " file; check that the images and labels files are not swapped or corrupt");
  }
}

std::filesystem::path find_file(const std::filesystem::path& dir, const std::string& name, const std::string& set) {
  for (const auto& candidate : {dir / name, dir / (name + ".gz")}) {
    if (std::filesystem::exists(candidate)) return candidate;
  }
  throw std::runtime_error("read_dataset: " + set + " file '" + (dir / name).string() + "' (or .gz) not found; " +
                           "set data.dir / --data-dir to the directory that holds it" +
                           (set == "fashion-mnist" ? " (Debian: apt-get install dataset-fashion-mnist)" : ""));
}

}  // namespace

ImageSet read_idx(const std::filesystem::path& images, const std::filesystem::path& labels, std::int32_t num_classes) {
  ImageSet set;
  set.num_classes = num_classes;
  CompressedReader img(images, "read_idx");
  check_magic(images, img.read_be32("the header"), kIdxImagesMagic, "image (idx3-ubyte)");
  const std::int64_t count = img.read_be32("the header");
  set.channels = 1;
  set.height = img.read_be32("the header");
  set.width = img.read_be32("the header");
  if (set.height <= 0 || set.width <= 0 || set.height > 4096 || set.width > 4096) {
    throw std::runtime_error("read_idx: '" + images.string() + "' declares images of " + std::to_string(set.height) +
                             "x" + std::to_string(set.width) + " pixels, which is not plausible; the file is corrupt");
  }
  CompressedReader lab(labels, "read_idx");
  check_magic(labels, lab.read_be32("the header"), kIdxLabelsMagic, "label (idx1-ubyte)");
  const std::int64_t label_count = lab.read_be32("the header");
  if (label_count != count) {
    throw std::runtime_error("read_idx: '" + images.string() + "' holds " + std::to_string(count) +
                             " images but '" + labels.string() + "' holds " + std::to_string(label_count) +
                             " labels; use the matching pair of files");
  }
  set.count = count;
  set.pixels.resize(static_cast<std::size_t>(count * set.image_size()));
  img.read(set.pixels.data(), set.pixels.size(), "image data");
  std::vector<std::uint8_t> raw(static_cast<std::size_t>(count));
  lab.read(raw.data(), raw.size(), "label data");
  set.labels.resize(raw.size());
  for (std::size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] >= num_classes) {
      throw std::runtime_error("read_idx: '" + labels.string() + "' has label " + std::to_string(raw[i]) +
                               " at index " + std::to_string(i) + ", outside [0, " + std::to_string(num_classes) +
                               "); the file is corrupt or not a 10-class label file");
    }
    set.labels[i] = raw[i];
  }
  return set;
}

ImageSet read_cifar10_bin(std::span<const std::filesystem::path> files) {
  ImageSet set;
  set.channels = kCifarChannels;
  set.height = kCifarSide;
  set.width = kCifarSide;
  set.num_classes = 10;
  for (const auto& path : files) {
    if (!std::filesystem::exists(path)) {
      throw std::runtime_error("read_cifar10_bin: file '" + path.string() +
                               "' does not exist; point data.dir / --data-dir at the cifar-10-batches-bin directory");
    }
    const auto size = static_cast<std::int64_t>(std::filesystem::file_size(path));
    if (size == 0 || size % kCifarRecord != 0) {
      throw std::runtime_error("read_cifar10_bin: '" + path.string() + "' has " + std::to_string(size) +
                               " bytes, not a whole number of " + std::to_string(kCifarRecord) +
                               "-byte records; the file is truncated or not a CIFAR-10 binary batch");
    }
    CompressedReader in(path, "read_cifar10_bin");
    std::vector<std::uint8_t> bytes(static_cast<std::size_t>(size));
    in.read(bytes.data(), bytes.size(), "CIFAR-10 records");
    const std::int64_t records = size / kCifarRecord;
    for (std::int64_t r = 0; r < records; ++r) {
      const auto* rec = bytes.data() + r * kCifarRecord;
      if (rec[0] >= 10) {
        throw std::runtime_error("read_cifar10_bin: '" + path.string() + "' record " + std::to_string(r) +
                                 " has label " + std::to_string(rec[0]) +
                                 " (>= 10); the file is not a CIFAR-10 binary batch");
      }
      set.labels.push_back(rec[0]);
      set.pixels.insert(set.pixels.end(), rec + 1, rec + kCifarRecord);
    }
    set.count += records;
  }
  return set;
}

ImageSet take(const ImageSet& set, std::span<const std::int64_t> indices) {
  ImageSet out;
  out.count = static_cast<std::int64_t>(indices.size());
  out.channels = set.channels;
  out.height = set.height;
  out.width = set.width;
  out.num_classes = set.num_classes;
  const auto sz = static_cast<std::size_t>(set.image_size());
  out.pixels.resize(indices.size() * sz);
  out.labels.resize(indices.size());
  for (std::size_t i = 0; i < indices.size(); ++i) {
    const auto src = static_cast<std::size_t>(indices[i]);
    if (indices[i] < 0 || indices[i] >= set.count) {
      throw std::out_of_range("take: index " + std::to_string(indices[i]) + " outside a set of " +
                              std::to_string(set.count) + " images");
    }
    std::copy_n(set.pixels.begin() + static_cast<std::ptrdiff_t>(src * sz), sz,
                out.pixels.begin() + static_cast<std::ptrdiff_t>(i * sz));
    out.labels[i] = set.labels[src];
  }
  return out;
}

TrainValidationSplit split_train_validation(const ImageSet& set, std::int64_t validation_count,
                                            std::int64_t train_count, std::uint64_t seed) {
  if (validation_count < 0 || train_count < 0 || validation_count + train_count > set.count ||
      (train_count == 0 && validation_count >= set.count)) {
    throw std::invalid_argument("split_train_validation: " + std::to_string(validation_count) +
                                " validation + " + std::to_string(train_count) +
                                " training images do not fit in a training set of " + std::to_string(set.count) +
                                "; lower data.validation or data.train_subset");
  }
  std::vector<std::int64_t> order(static_cast<std::size_t>(set.count));
  std::iota(order.begin(), order.end(), std::int64_t{0});
  std::mt19937_64 rng(seed);
  std::shuffle(order.begin(), order.end(), rng);
  const auto v = static_cast<std::size_t>(validation_count);
  const auto t = train_count == 0 ? order.size() - v : static_cast<std::size_t>(train_count);
  TrainValidationSplit split;
  split.validation = take(set, std::span(order).subspan(0, v));
  split.train = take(set, std::span(order).subspan(v, t));
  return split;
}

ChannelStats channel_stats(const ImageSet& set) {
  ChannelStats stats;
  const std::int64_t plane = set.height * set.width;
  for (std::int64_t c = 0; c < set.channels; ++c) {
    double sum = 0;
    double sum_sq = 0;
    for (std::int64_t i = 0; i < set.count; ++i) {
      const auto* p = set.pixels.data() + (i * set.channels + c) * plane;
      std::int64_t s = 0;
      std::int64_t s2 = 0;
      for (std::int64_t k = 0; k < plane; ++k) {
        s += p[k];
        s2 += std::int64_t{p[k]} * p[k];
      }
      sum += static_cast<double>(s);
      sum_sq += static_cast<double>(s2);
    }
    const double n = static_cast<double>(std::max<std::int64_t>(1, set.count * plane));
    const double mean = sum / n / 255.0;
    const double var = std::max(0.0, sum_sq / n / (255.0 * 255.0) - mean * mean);
    stats.mean.push_back(static_cast<float>(mean));
    stats.stddev.push_back(var > 1e-12 ? static_cast<float>(std::sqrt(var)) : 1.0f);
  }
  return stats;
}

ChannelStats identity_stats(std::int64_t channels) {
  return ChannelStats{std::vector<float>(static_cast<std::size_t>(channels), 0.0f),
                      std::vector<float>(static_cast<std::size_t>(channels), 1.0f)};
}

void gather_batch(const ImageSet& set, std::span<const std::int64_t> indices, const ChannelStats& stats,
                  tensor::Tensor& x, std::span<std::int32_t> labels) {
  const auto b = static_cast<std::int64_t>(indices.size());
  tensor::require_shape("gather_batch", "x", x.shape(), tensor::Shape{b, set.channels, set.height, set.width});
  if (labels.size() != indices.size()) {
    throw std::invalid_argument("gather_batch: " + std::to_string(labels.size()) + " label slots for " +
                                std::to_string(b) + " images");
  }
  const std::int64_t plane = set.height * set.width;
  std::array<float, 256> lut{};
  for (std::int64_t i = 0; i < b; ++i) {
    const auto src = indices[static_cast<std::size_t>(i)];
    labels[static_cast<std::size_t>(i)] = set.labels[static_cast<std::size_t>(src)];
    for (std::int64_t c = 0; c < set.channels; ++c) {
      const float scale = 1.0f / (255.0f * stats.stddev[static_cast<std::size_t>(c)]);
      const float shift = stats.mean[static_cast<std::size_t>(c)] / stats.stddev[static_cast<std::size_t>(c)];
      for (int v = 0; v < 256; ++v) lut[static_cast<std::size_t>(v)] = static_cast<float>(v) * scale - shift;
      const auto* p = set.pixels.data() + (src * set.channels + c) * plane;
      float* out = x.data() + (i * set.channels + c) * plane;
      for (std::int64_t k = 0; k < plane; ++k) out[k] = lut[p[k]];
    }
  }
}

BatchIterator::BatchIterator(std::int64_t count, std::int64_t batch, std::uint64_t seed, bool shuffle,
                             bool drop_last, bool fixed_cycle)
    : count_(count), batch_(batch), seed_(seed), shuffle_(shuffle), drop_last_(drop_last), fixed_cycle_(fixed_cycle) {
  if (count < 1 || batch < 1) {
    throw std::invalid_argument("BatchIterator: need at least one sample and a batch >= 1 (got " +
                                std::to_string(count) + " samples, batch " + std::to_string(batch) + ")");
  }
  if (drop_last && batch > count) {
    throw std::invalid_argument("BatchIterator: batch " + std::to_string(batch) + " is larger than the " +
                                std::to_string(count) + " samples, so every batch would be dropped; lower the batch");
  }
  reorder();
}

std::int64_t BatchIterator::batches_per_epoch() const noexcept {
  return drop_last_ ? count_ / batch_ : (count_ + batch_ - 1) / batch_;
}

std::span<const std::int64_t> BatchIterator::next() {
  const std::int64_t left = count_ - state_.position;
  if (left <= 0 || (drop_last_ && left < batch_)) return {};
  const std::int64_t n = std::min(left, batch_);
  std::span<const std::int64_t> out(order_.data() + state_.position, static_cast<std::size_t>(n));
  state_.position += n;
  return out;
}

void BatchIterator::next_epoch() {
  ++state_.epoch;
  state_.position = 0;
  reorder();
}

void BatchIterator::restore(const BatchIteratorState& state) {
  if (state.epoch < 0 || state.position < 0 || state.position > count_) {
    throw std::invalid_argument("BatchIterator::restore: position " + std::to_string(state.position) +
                                " of epoch " + std::to_string(state.epoch) + " is outside a set of " +
                                std::to_string(count_) + " samples");
  }
  state_ = state;
  reorder();
}

void BatchIterator::reorder() {
  order_.resize(static_cast<std::size_t>(count_));
  std::iota(order_.begin(), order_.end(), std::int64_t{0});
  if (!shuffle_) return;
  const std::int64_t epoch = fixed_cycle_ ? 0 : state_.epoch;
  std::seed_seq seq{static_cast<std::uint32_t>(seed_), static_cast<std::uint32_t>(seed_ >> 32),
                    static_cast<std::uint32_t>(epoch), static_cast<std::uint32_t>(epoch >> 32)};
  std::mt19937_64 rng(seq);
  std::shuffle(order_.begin(), order_.end(), rng);
}

DatasetFiles read_dataset(const std::string& name, const std::filesystem::path& dir) {
  if (name == "fashion-mnist" || name == "mnist") {
    DatasetFiles files;
    files.train = read_idx(find_file(dir, "train-images-idx3-ubyte", name),
                           find_file(dir, "train-labels-idx1-ubyte", name));
    files.test = read_idx(find_file(dir, "t10k-images-idx3-ubyte", name), find_file(dir, "t10k-labels-idx1-ubyte", name));
    return files;
  }
  if (name == "cifar10") {
    const auto base = std::filesystem::exists(dir / "cifar-10-batches-bin") ? dir / "cifar-10-batches-bin" : dir;
    std::vector<std::filesystem::path> train_files;
    for (int i = 1; i <= 5; ++i) train_files.push_back(base / ("data_batch_" + std::to_string(i) + ".bin"));
    const std::vector<std::filesystem::path> test_files{base / "test_batch.bin"};
    return DatasetFiles{read_cifar10_bin(train_files), read_cifar10_bin(test_files)};
  }
  throw std::runtime_error("read_dataset: unknown data set '" + name +
                           "'; use fashion-mnist, mnist or cifar10 (data.set)");
}

}  // namespace alphax::train
