#pragma once
/// \file
/// \brief The α-β cost model of the collectives: LP block size b*, predicted times, and the rule
/// behind Algorithm::automatic. Pure functions: no MPI.
#include <cstddef>

#include "alphax/comm/types.hpp"

namespace alphax::comm {

/// \brief Smallest pipeline block the model may choose (bytes).
inline constexpr std::size_t kMinBlockBytes = std::size_t{64} << 10;
/// \brief Largest broadcast block (bytes): received straight into the user's buffer.
inline constexpr std::size_t kMaxBroadcastBlockBytes = std::size_t{1} << 20;
/// \brief Largest reduce / allreduce block (bytes): received into scratch that stays in cache.
inline constexpr std::size_t kMaxReduceBlockBytes = std::size_t{256} << 10;
/// \brief Block size used when the link model is unknown (α = 0 or β = 0).
inline constexpr std::size_t kDefaultBlockBytes = std::size_t{128} << 10;

/// \brief Segment size of the ring allreduce. The model's ring time 2(P−1)·m·(α + n/(P·m)·β) only
/// falls as segments grow (a ring has no pipeline to fill: every link is busy from the first
/// step), so it is the largest segment the cache-sized receive slots hold.
inline constexpr std::size_t kRingSegmentBytes = kMaxReduceBlockBytes;

/// \brief LP block size b* = sqrt(n·α / ((P−1)·β)) for `bytes` bytes on `ranks` ranks, clamped to
/// [kMinBlockBytes, max block of `collective`] and rounded down to a multiple of 64 bytes.
std::size_t optimal_block_bytes(Collective collective, int ranks, std::size_t bytes, const LinkModel& link);

/// \brief Predicted seconds of `algorithm` (lp, ring or mpi; never automatic) for `collective` of
/// `bytes` bytes on `ranks` ranks with blocks of `block_bytes`, for hosts with one full-duplex link
/// each into a switch:
/// - broadcast/reduce lp: (⌈n/b⌉ + P − 2)·(α + bβ)
/// - allreduce lp: (f·⌈n/b⌉ + 2P − 3)·(α + bβ), f = 1 at P = 2 and 2 above (inner ranks send both
///   the partial sums down and the results up the chain through one link)
/// - allreduce ring: 2(P − 1)·m·(α + n/(P·m)·β) with m = ⌈n/(P·b)⌉ segments per chunk
/// - mpi (modelled as a binomial tree / recursive doubling): ⌈log₂P⌉·(α + nβ)
/// Returns +infinity for combinations that do not exist (ring broadcast).
double predict_seconds(Collective collective, Algorithm algorithm, int ranks, std::size_t bytes,
                       std::size_t block_bytes, const LinkModel& link);

/// \brief How much faster the modelled tree must be before Algorithm::automatic hands a call to
/// the MPI library: its model (a binomial tree) is what MPI does for short messages only.
inline constexpr double kTreeMargin = 2.0;

/// \brief The rule of Algorithm::automatic: lp (blocks of `lp_block_bytes`) or, for allreduce, ring
/// (segments of `ring_block_bytes`), whichever has the smaller predict_seconds (ties go to lp); mpi
/// instead when its predicted time is kTreeMargin times smaller still (latency-bound short
/// messages on many ranks). P = 1 and n = 0 give lp (a copy).
Algorithm choose_algorithm(Collective collective, int ranks, std::size_t bytes, std::size_t lp_block_bytes,
                           std::size_t ring_block_bytes, const LinkModel& link);

}  // namespace alphax::comm
