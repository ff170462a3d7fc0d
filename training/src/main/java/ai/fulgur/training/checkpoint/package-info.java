/**
 * Checkpoints that Hugging Face transformers reads: tensors in safetensors files, hyper-parameters in config.json,
 * both written atomically, plus the training state (optimizer moments, step, random state) for exact resume.
 */
package ai.fulgur.training.checkpoint;
