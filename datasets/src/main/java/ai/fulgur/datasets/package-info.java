/** Tokenizers (GPT-2 byte-level BPE, WordPiece), token shard files and DJL datasets for language modelling. */
package ai.fulgur.datasets;
