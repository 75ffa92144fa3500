#pragma once
/// \file
/// \brief Umbrella header: every lib/tensor op.
#include "alphax/tensor/batch_norm.hpp"
#include "alphax/tensor/concat.hpp"
#include "alphax/tensor/conv2d.hpp"
#include "alphax/tensor/dense.hpp"
#include "alphax/tensor/elementwise.hpp"
#include "alphax/tensor/loss.hpp"
#include "alphax/tensor/pooling.hpp"
#include "alphax/tensor/tensor.hpp"
#include "alphax/tensor/threading.hpp"
#include "alphax/tensor/workspace.hpp"
