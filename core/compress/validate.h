/* validate.h - what the compressor checks before it spends minutes on a
 * model: weights it can store, an output path it can write, and a float
 * model whose loss on the calibration text is a number. Each failure names
 * the tensor, the element or the path. */
#ifndef BS_COMPRESS_VALIDATE_H
#define BS_COMPRESS_VALIDATE_H

#include "model.h"

/* The largest finite binary16 value: stacked blocks store their scales and
   factors, and resident tables their weights, as binary16. */
#define CM_MAX_WEIGHT 65504.0f

/* Every f32 tensor of a float model: norms finite; the token table, an
   untied output and the 7 linear maps of each layer finite and within
   +-CM_MAX_WEIGHT. BS_ERR_FORMAT naming the tensor, row and column. */
bs_status cm_validate_weights(const bs_model *m);

/* The output must not be a directory and its directory must exist, so a
   bad path fails in a second rather than after the whole compression.
   BS_ERR_IO naming the path. */
bs_status cm_validate_output(const char *path);

/* The float model's mean NLL on the curve windows must be finite (weights
   that overflow in the forward pass give NaN or infinity). */
bs_status cm_validate_float_loss(double nll);

#endif
