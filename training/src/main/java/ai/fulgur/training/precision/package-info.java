/**
 * Mixed-precision training: the {@link ai.fulgur.training.precision.Precision} of a run (fp32, bf16, fp16 over F32
 * master weights, through {@link ai.fulgur.autograd.Autocast}) and the dynamic
 * {@link ai.fulgur.training.precision.LossScaler} that fp16 needs.
 */
package ai.fulgur.training.precision;
