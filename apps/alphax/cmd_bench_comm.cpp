// `alphax bench comm`: times lib/comm's collectives against MPI's own (default and forced tuned
// algorithms) with the variants interleaved in one job; prints an OSU-style table and writes
// DIR/comm.csv (and DIR/comm_model.csv with the α-β model's predictions).
//
// Forced OpenMPI algorithms: coll/tuned reads coll_tuned_use_dynamic_rules and the
// coll_tuned_<op>_algorithm[_segmentsize] variables when a communicator is created (module
// enable). So for every forced variant we write those control variables through the MPI_T
// interface, MPI_Comm_dup the world communicator (which then carries that algorithm for good), and
// put the variables back to "ignore". The library default row runs on a communicator duplicated
// before any variable was touched. One job therefore times every variant, interleaved.
#include <mpi.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <numeric>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "alphax/comm/communicator.hpp"
#include "alphax/comm/cost_model.hpp"
#include "alphax/commands.hpp"

namespace alphax::app {
namespace {

using comm::Algorithm;
using comm::Collective;

struct BenchCommOptions {
  std::string ops = "bcast,reduce,allreduce";
  std::string sizes = "1M,16M,64M";
  std::string algorithms = "lp,ring,auto,mpi";
  std::string transports = "auto";
  std::string mpi_variants = "binomial,be,pipeline,ring,rabenseifner";
  int repeats = 10;
  int warmup = 1;
  std::size_t block_bytes = 0;
  std::size_t mpi_segment_bytes = std::size_t{1} << 20;
  int root = 0;
  std::string out;
};

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> items;
  std::stringstream stream(text);
  std::string item;
  while (std::getline(stream, item, ','))
    if (!item.empty() && item != "none") items.push_back(item);
  return items;
}

// "64M" = 64 MiB, "1K" = 1 KiB, "100" = 100 bytes.
std::size_t parse_size(const std::string& text) {
  std::size_t pos = 0;
  const unsigned long long value = std::stoull(text, &pos);
  std::size_t scale = 1;
  const std::string suffix = text.substr(pos);
  if (suffix == "K" || suffix == "k" || suffix == "KiB")
    scale = std::size_t{1} << 10;
  else if (suffix == "M" || suffix == "m" || suffix == "MiB")
    scale = std::size_t{1} << 20;
  else if (suffix == "G" || suffix == "g" || suffix == "GiB")
    scale = std::size_t{1} << 30;
  else if (!suffix.empty())
    throw std::invalid_argument("alphax bench comm: size '" + text +
                                "' has an unknown suffix; use e.g. 1M, 64K, 4096");
  return static_cast<std::size_t>(value) * scale;
}

void check_mpi(int rc, const std::string& what) {
  if (rc != MPI_SUCCESS)
    throw std::runtime_error("alphax bench comm: " + what + " failed (MPI error " + std::to_string(rc) + ")");
}

// Writes integer MCA control variables through MPI_T; RAII for the MPI_T session.
class ControlVariables {
 public:
  ControlVariables() {
    int provided = 0;
    check_mpi(MPI_T_init_thread(MPI_THREAD_SINGLE, &provided), "MPI_T_init_thread");
  }
  ~ControlVariables() { MPI_T_finalize(); }
  ControlVariables(const ControlVariables&) = delete;
  ControlVariables& operator=(const ControlVariables&) = delete;

  void write(const std::string& name, int value) {
    MPI_T_cvar_handle handle = open(name);
    const int rc = MPI_T_cvar_write(handle, &value);
    MPI_T_cvar_handle_free(&handle);
    if (rc != MPI_SUCCESS)
      throw std::runtime_error("alphax bench comm: cannot set '" + name + "' at run time (MPI_T error " +
                               std::to_string(rc) +
                               "); pass --mpi-variants none and force it with --mca instead");
  }

  int read(const std::string& name) {
    MPI_T_cvar_handle handle = open(name);
    int value = 0;
    const int rc = MPI_T_cvar_read(handle, &value);
    MPI_T_cvar_handle_free(&handle);
    check_mpi(rc, "MPI_T_cvar_read(" + name + ")");
    return value;
  }

 private:
  static MPI_T_cvar_handle open(const std::string& name) {
    int index = -1;
    if (MPI_T_cvar_get_index(name.c_str(), &index) != MPI_SUCCESS)
      throw std::runtime_error(
          "alphax bench comm: MPI_T has no control variable '" + name +
          "'; is this Open MPI with the coll/tuned component (ompi_info --param coll tuned)?");
    MPI_T_cvar_handle handle = nullptr;
    int count = 0;
    check_mpi(MPI_T_cvar_handle_alloc(index, nullptr, &handle, &count),
              "MPI_T_cvar_handle_alloc(" + name + ")");
    return handle;
  }
};

// A duplicate of MPI_COMM_WORLD; freed on destruction.
class OwnedComm {
 public:
  explicit OwnedComm(MPI_Comm parent) { check_mpi(MPI_Comm_dup(parent, &comm_), "MPI_Comm_dup"); }
  ~OwnedComm() {
    if (comm_ != MPI_COMM_NULL) MPI_Comm_free(&comm_);
  }
  OwnedComm(const OwnedComm&) = delete;
  OwnedComm& operator=(const OwnedComm&) = delete;
  MPI_Comm get() const { return comm_; }

 private:
  MPI_Comm comm_ = MPI_COMM_NULL;
};

struct ForcedAlgorithm {
  std::string name;  // the row name after "mpi:"
  std::vector<std::pair<std::string, int>> variables;
};

// OpenMPI 4.1 coll/tuned numbering (ompi_info --param coll tuned --level 9).
std::vector<ForcedAlgorithm> forced_algorithms(Collective op, std::size_t segment_bytes) {
  const int segment = static_cast<int>(segment_bytes);
  switch (op) {
    case Collective::broadcast:
      return {{"binomial", {{"coll_tuned_bcast_algorithm", 6}}},
              {"be", {{"coll_tuned_bcast_algorithm", 9}}},
              {"pipeline",
               {{"coll_tuned_bcast_algorithm", 3}, {"coll_tuned_bcast_algorithm_segmentsize", segment}}}};
    case Collective::reduce:
      return {{"binomial", {{"coll_tuned_reduce_algorithm", 5}}},
              {"pipeline",
               {{"coll_tuned_reduce_algorithm", 3}, {"coll_tuned_reduce_algorithm_segmentsize", segment}}},
              {"rabenseifner", {{"coll_tuned_reduce_algorithm", 7}}}};
    case Collective::allreduce:
      return {{"binomial",
               {{"coll_tuned_allreduce_algorithm", 2},
                {"coll_tuned_reduce_algorithm", 5},
                {"coll_tuned_bcast_algorithm", 6}}},
              {"ring", {{"coll_tuned_allreduce_algorithm", 4}}},
              {"rabenseifner", {{"coll_tuned_allreduce_algorithm", 6}}}};
  }
  return {};
}

// coll_tuned_use_dynamic_rules itself is read-only at run time, so it must come from the launch
// (--mca coll_tuned_use_dynamic_rules 1). With no algorithm forced and no rules file, the dynamic
// decision falls back to the fixed decision, so the default rows are unchanged by it.
std::unique_ptr<OwnedComm> make_forced_comm(ControlVariables& cvars, const ForcedAlgorithm& forced) {
  if (cvars.read("coll_tuned_use_dynamic_rules") == 0)
    throw std::runtime_error(
        "alphax bench comm: the mpi:* rows need `--mca coll_tuned_use_dynamic_rules 1` (or "
        "OMPI_MCA_coll_tuned_use_dynamic_rules=1) at launch; or pass --mpi-variants none");
  for (const auto& [name, value] : forced.variables) cvars.write(name, value);
  auto comm = std::make_unique<OwnedComm>(MPI_COMM_WORLD);
  for (const auto& [name, value] : forced.variables) cvars.write(name, 0);
  return comm;
}

struct Variant {
  Collective op;
  std::string name;
  std::function<void(std::size_t count)> run;
};

struct Row {
  std::string op;
  std::string algorithm;
  std::size_t bytes = 0;
  double median_us = 0;
  double min_us = 0;
  double algbw = 0;
  double busbw = 0;
  std::string note;
};

double bus_factor(Collective op, int ranks) {
  return op == Collective::allreduce ? 2.0 * (ranks - 1) / ranks : 1.0;
}

int run_bench_comm(const BenchCommOptions& options) {
  int rank = 0;
  int ranks = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &ranks);
  if (options.repeats < 1) throw std::invalid_argument("alphax bench comm: --repeats must be >= 1");
  if (options.root < 0 || options.root >= ranks)
    throw std::invalid_argument("alphax bench comm: --root " + std::to_string(options.root) +
                                " is not a rank of this job");

  // One communicator per transport; the first one's rows carry the plain algorithm names, the
  // others' rows "<algorithm>@<transport>" (same job, interleaved: paired comparisons).
  std::vector<std::unique_ptr<comm::MpiCommunicator>> alphax_comms;
  for (const auto& t : split_list(options.transports)) {
    comm::CommunicatorOptions comm_options;
    comm_options.block_bytes = options.block_bytes;
    comm_options.transport = comm::parse_transport(t);
    if (!alphax_comms.empty()) comm_options.link = alphax_comms.front()->link_model();
    alphax_comms.push_back(std::make_unique<comm::MpiCommunicator>(MPI_COMM_WORLD, comm_options));
  }
  if (alphax_comms.empty()) throw std::invalid_argument("alphax bench comm: --transports lists no transport");
  comm::MpiCommunicator& alphax_comm = *alphax_comms.front();
  const MPI_Comm default_comm = alphax_comm.native_handle();  // library-default MPI on its dup

  std::vector<Collective> ops;
  for (const auto& op : split_list(options.ops)) ops.push_back(comm::parse_collective(op));
  std::vector<std::size_t> sizes;
  for (const auto& s : split_list(options.sizes)) sizes.push_back(parse_size(s));
  std::vector<Algorithm> algorithms;
  for (const auto& a : split_list(options.algorithms)) algorithms.push_back(comm::parse_algorithm(a));
  const std::vector<std::string> wanted_forced = split_list(options.mpi_variants);
  const std::size_t max_bytes = sizes.empty() ? 0 : *std::max_element(sizes.begin(), sizes.end());

  std::vector<float> send(max_bytes / sizeof(float) + 1);
  std::vector<float> recv(send.size());
  for (std::size_t i = 0; i < send.size(); ++i)
    send[i] = static_cast<float>((i + static_cast<std::size_t>(rank)) % 17);

  std::unique_ptr<ControlVariables> cvars;
  std::vector<std::unique_ptr<OwnedComm>> forced_comms;
  std::vector<Variant> variants;
  const int root = options.root;
  for (Collective op : ops) {
    for (Algorithm algorithm : algorithms) {
      if (algorithm == Algorithm::ring && op != Collective::allreduce) continue;
      if (algorithm == Algorithm::mpi) {
        variants.push_back({op, "mpi", [&, op, default_comm](std::size_t count) {
                              const int n = static_cast<int>(count);
                              if (op == Collective::broadcast)
                                MPI_Bcast(send.data(), n, MPI_FLOAT, root, default_comm);
                              else if (op == Collective::reduce)
                                MPI_Reduce(send.data(), recv.data(), n, MPI_FLOAT, MPI_SUM, root,
                                           default_comm);
                              else
                                MPI_Allreduce(send.data(), recv.data(), n, MPI_FLOAT, MPI_SUM, default_comm);
                            }});
        continue;
      }
      for (std::size_t t = 0; t < alphax_comms.size(); ++t) {
        comm::MpiCommunicator& c = *alphax_comms[t];
        std::string name(comm::to_string(algorithm));
        if (t > 0) name += "@" + std::string(comm::to_string(c.transport()));
        variants.push_back({op, name, [&, op, algorithm](std::size_t count) {
                              const auto n = static_cast<std::ptrdiff_t>(count);
                              if (op == Collective::broadcast)
                                c.broadcast(send.data(), n, root, algorithm);
                              else if (op == Collective::reduce)
                                c.reduce(send.data(), recv.data(), n, comm::ReduceOp::sum, root, algorithm);
                              else
                                c.allreduce(send.data(), recv.data(), n, comm::ReduceOp::sum, algorithm);
                            }});
      }
    }
    for (const ForcedAlgorithm& forced : forced_algorithms(op, options.mpi_segment_bytes)) {
      if (std::find(wanted_forced.begin(), wanted_forced.end(), forced.name) == wanted_forced.end()) continue;
      if (!cvars) cvars = std::make_unique<ControlVariables>();
      forced_comms.push_back(make_forced_comm(*cvars, forced));
      const MPI_Comm c = forced_comms.back()->get();
      variants.push_back({op, "mpi:" + forced.name, [&, op, c](std::size_t count) {
                            const int n = static_cast<int>(count);
                            if (op == Collective::broadcast)
                              MPI_Bcast(send.data(), n, MPI_FLOAT, root, c);
                            else if (op == Collective::reduce)
                              MPI_Reduce(send.data(), recv.data(), n, MPI_FLOAT, MPI_SUM, root, c);
                            else
                              MPI_Allreduce(send.data(), recv.data(), n, MPI_FLOAT, MPI_SUM, c);
                          }});
    }
  }

  const comm::LinkModel link = alphax_comm.link_model();
  if (rank == 0) {
    std::printf("# alphax bench comm: P = %d, repeats = %d, root = %d, float32 sum\n", ranks, options.repeats,
                root);
    std::printf("# link model (ping-pong at creation): alpha = %.2f us, beta = %.3f ns/byte (%.2f GB/s)\n",
                link.alpha_s * 1e6, link.beta_s_per_byte * 1e9, 1e-9 / link.beta_s_per_byte);
    std::printf("# transport of lp/ring: %s", std::string(comm::to_string(alphax_comm.transport())).c_str());
    for (std::size_t t = 1; t < alphax_comms.size(); ++t)
      std::printf(", and rows @%s", std::string(comm::to_string(alphax_comms[t]->transport())).c_str());
    const char* mmap_max = std::getenv("MALLOC_MMAP_MAX_");
    const char* trim = std::getenv("MALLOC_TRIM_THRESHOLD_");
    std::printf("; MALLOC_MMAP_MAX_=%s MALLOC_TRIM_THRESHOLD_=%s\n", mmap_max ? mmap_max : "(unset)",
                trim ? trim : "(unset)");
    std::printf("# variants interleaved per repeat, barrier before each call, time = max over ranks\n");
  }

  std::vector<Row> rows;
  std::ostringstream model_csv;
  model_csv << "op,algorithm,ranks,bytes,block_bytes,predicted_us,alpha_us,beta_ns_per_byte,auto_choice\n";
  for (std::size_t bytes : sizes) {
    const std::size_t count = bytes / sizeof(float);
    std::vector<std::vector<double>> times(variants.size());
    for (int r = -options.warmup; r < options.repeats; ++r) {
      for (std::size_t v = 0; v < variants.size(); ++v) {
        MPI_Barrier(MPI_COMM_WORLD);
        const double start = MPI_Wtime();
        variants[v].run(count);
        double elapsed = MPI_Wtime() - start;
        MPI_Allreduce(MPI_IN_PLACE, &elapsed, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
        if (r >= 0) times[v].push_back(elapsed);
      }
    }
    for (std::size_t v = 0; v < variants.size(); ++v) {
      std::vector<double>& t = times[v];
      std::sort(t.begin(), t.end());
      const double median = t.size() % 2 ? t[t.size() / 2] : 0.5 * (t[t.size() / 2 - 1] + t[t.size() / 2]);
      Row row;
      row.op = std::string(comm::to_string(variants[v].op));
      row.algorithm = variants[v].name;
      row.bytes = bytes;
      row.median_us = median * 1e6;
      row.min_us = t.front() * 1e6;
      row.algbw = median > 0 ? static_cast<double>(bytes) / median * 1e-9 : 0.0;
      row.busbw = row.algbw * bus_factor(variants[v].op, ranks);
      if (row.algorithm == "auto")
        row.note =
            "-> " +
            std::string(comm::to_string(alphax_comm.resolve(variants[v].op, Algorithm::automatic, bytes)));
      rows.push_back(row);
    }
    for (Collective op : ops) {
      const Algorithm chosen = alphax_comm.resolve(op, Algorithm::automatic, bytes);
      for (Algorithm a : {Algorithm::lp, Algorithm::ring, Algorithm::mpi}) {
        if (a == Algorithm::ring && op != Collective::allreduce) continue;
        const std::size_t block =
            alphax_comm.block_bytes_for(op, bytes, a == Algorithm::ring ? a : Algorithm::lp);
        model_csv << comm::to_string(op) << ',' << comm::to_string(a) << ',' << ranks << ',' << bytes << ','
                  << block << ',' << comm::predict_seconds(op, a, ranks, bytes, block, link) * 1e6 << ','
                  << link.alpha_s * 1e6 << ',' << link.beta_s_per_byte * 1e9 << ',' << comm::to_string(chosen)
                  << '\n';
      }
    }
  }

  if (rank == 0) {
    std::printf("%-10s %-18s %12s %14s %14s %12s %12s\n", "# op", "algorithm", "bytes", "time_us_med",
                "time_us_min", "algbw_GBps", "busbw_GBps");
    for (const Row& row : rows)
      std::printf("%-10s %-18s %12zu %14.1f %14.1f %12.3f %12.3f %s\n", row.op.c_str(), row.algorithm.c_str(),
                  row.bytes, row.median_us, row.min_us, row.algbw, row.busbw, row.note.c_str());
    if (!options.out.empty()) {
      std::filesystem::create_directories(options.out);
      std::ofstream csv(std::filesystem::path(options.out) / "comm.csv");
      csv << "op,algorithm,ranks,bytes,time_us_median,time_us_min,algbw_GBps,busbw_GBps\n";
      for (const Row& row : rows)
        csv << row.op << ',' << row.algorithm << ',' << ranks << ',' << row.bytes << ',' << row.median_us
            << ',' << row.min_us << ',' << row.algbw << ',' << row.busbw << '\n';
      std::ofstream model(std::filesystem::path(options.out) / "comm_model.csv");
      model << model_csv.str();
      if (!csv || !model)
        throw std::runtime_error("alphax bench comm: cannot write to '" + options.out +
                                 "'; check the directory");
      std::printf("# wrote %s/comm.csv and %s/comm_model.csv\n", options.out.c_str(), options.out.c_str());
    }
  }
  return 0;
}

}  // namespace

void add_bench_comm_command(CLI::App& bench, CommandContext& context) {
  auto options = std::make_shared<BenchCommOptions>();
  CLI::App* cmd =
      bench.add_subcommand("comm", "Time lib/comm's collectives against MPI's (run under mpirun)");
  cmd->add_option("--ops", options->ops, "Comma list of bcast, reduce, allreduce")->capture_default_str();
  cmd->add_option("--sizes", options->sizes, "Comma list of message sizes in bytes (K, M, G = KiB, MiB, GiB)")
      ->capture_default_str();
  cmd->add_option("--algorithms", options->algorithms,
                  "Comma list of lp, ring, auto, mpi (mpi = library default)")
      ->capture_default_str();
  cmd->add_option("--transports", options->transports,
                  "Comma list of lp/ring transports (auto, p2p, shm); rows of all but the first are named "
                  "<algorithm>@<transport>")
      ->capture_default_str();
  cmd->add_option(
         "--mpi-variants", options->mpi_variants,
         "Forced Open MPI coll/tuned algorithms to time as mpi:<name> rows (binomial, be, pipeline, ring, "
         "rabenseifner) or none")
      ->capture_default_str();
  cmd->add_option("--repeats", options->repeats, "Timed calls per variant and size")->capture_default_str();
  cmd->add_option("--warmup", options->warmup, "Untimed rounds before timing")->capture_default_str();
  cmd->add_option("--block-bytes", options->block_bytes,
                  "LP/ring block size; 0 = b* from the alpha-beta model")
      ->capture_default_str();
  cmd->add_option("--mpi-segment-bytes", options->mpi_segment_bytes, "Segment size of the mpi:pipeline rows")
      ->capture_default_str();
  cmd->add_option("--root", options->root, "Root rank of bcast and reduce")->capture_default_str();
  cmd->add_option("--out", options->out, "Directory for comm.csv and comm_model.csv");
  cmd->callback([options, &context] { context.exit_code = run_bench_comm(*options); });
}

}  // namespace alphax::app
