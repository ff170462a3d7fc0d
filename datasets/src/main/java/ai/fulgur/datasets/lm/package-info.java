/**
 * DJL datasets for language modelling: {@link ai.fulgur.datasets.lm.CausalLmDataset} (GPT-2 next-token windows
 * over token shards) and {@link ai.fulgur.datasets.lm.MaskedLmDataset} (BERT masked-LM rows). Every sample is a
 * pure function of (seed, epoch, index), so runs are reproducible and resume exactly.
 */
package ai.fulgur.datasets.lm;
