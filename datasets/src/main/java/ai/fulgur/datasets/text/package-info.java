/**
 * Labeled text for classification fine-tuning: {@link ai.fulgur.datasets.text.LabeledTextFile} reads CSV, TSV or
 * JSON-lines files of (text, label), and {@link ai.fulgur.datasets.text.TextClassificationDataset} serves them to
 * DJL as WordPiece-encoded BERT rows.
 */
package ai.fulgur.datasets.text;
