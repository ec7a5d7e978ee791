/*
 * attack.h: the adversarial examples of Table 5 (Goodfellow et al. 2015; Kurakin et al. 2017),
 * untargeted, on the true label, the net in evaluation mode (BN running statistics, no
 * dropout):
 *   FGSM    x' = P(x + eps sign(grad_x L(x, y)))
 *   I-FGSM  x_0 = x, x_{i+1} = P(x_i + step sign(grad_x L(x_i, y))), iters steps
 * L is the softmax cross-entropy of the batch (the mean over its examples: the sign of each
 * row's gradient is that of its own example's loss), sign(0) = 0 (torch.sign), and P clips to
 * the eps-ball around x and to the valid pixel range, channel by channel.
 *
 * Units. eps and step are in pixel units of the 0-255 image, as the paper states eps; the net
 * sees normalised inputs x = (p / 255 - mean_c) / std_c, so in its units eps_c = eps / (255
 * std_c) and the valid range is [(0 - mean_c) / std_c, (1 - mean_c) / std_c]. The gradient goes
 * through the normalisation (d/dp = d/dx / (255 std_c), the same sign). With quantize = 1 the
 * final image is rounded to the nearest integer pixel (p' = round(255 p) / 255, then
 * renormalised), as an attack saved to a PNG would be; default off.
 * FGSM is I-FGSM with iters = 1 and step = eps, bit for bit.
 *
 * The net's parameter gradients are zeroed, then hold the last step's (the attack never
 * updates a parameter); its activations are those of the last forward on x'.
 */
#ifndef ATTACK_H
#define ATTACK_H

#include "core/tensor.h"
#include "nn/net.h"

#define ATTACK_MAX_CHANNELS 4

typedef struct AttackParams {
    double eps;                          /* > 0, pixel units (0-255) */
    double step;                         /* > 0, pixel units; FGSM: eps */
    int iters;                           /* >= 1; FGSM: 1 */
    int quantize;                        /* 1: round the result to integer pixels */
    int channels;                        /* C, 1..ATTACK_MAX_CHANNELS: x is (N, C, H, W) */
    double mean[ATTACK_MAX_CHANNELS];    /* the normalisation the net's inputs went through */
    double std[ATTACK_MAX_CHANNELS];     /* > 0 */
} AttackParams;

/* x_adv: (N, C, H, W) out (must not alias x); x: the clean normalised batch; label: N ints;
 * t, dz: (N, K) scratch for the one-hot targets and the loss gradient (K the net's classes).
 * *loss (optional): the loss at the returned x_adv is not computed; it is the loss of the last
 * step's forward (at x_{iters - 1}). Fails, naming the value, on bad parameters or shapes. */
int attack_run(Net *net, Tensor *x_adv, Tensor *t, Tensor *dz, double *loss, const Tensor *x,
               const int *label, const AttackParams *p, Err *err);

#endif
