/**
 * Terminal progress reporting shared by data preparation, training and the command line:
 * {@link ai.fulgur.datasets.progress.ProgressBar}.
 */
package ai.fulgur.datasets.progress;
