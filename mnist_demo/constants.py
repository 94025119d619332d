"""Constants shared by training, preprocessing, evaluation and the app: defined once, here."""

# MNIST geometry: 28x28 frames whose digit was scaled so its longest side is 20 px.
IMAGE_SIZE = 28
DIGIT_BOX_SIZE = 20

# Normalisation of the 28x28 inputs (MNIST training-set mean and std of pixel values in 0..1).
MNIST_MEAN = 0.1307
MNIST_STD = 0.3081

# The ground-truth rule of the seed notebook: a pixel is ink when its uint8 value is > 0.
# For float images in 0..1 that is "rounds to at least 1/255".
INK_THRESHOLD_UINT8 = 0
INK_THRESHOLD_FLOAT = (INK_THRESHOLD_UINT8 + 0.5) / 255.0

# The detector sees the whole drawing letterboxed into this square, and predicts on a grid
# DETECTOR_STRIDE times coarser (CenterNet-style: one heatmap cell per possible digit centre).
CANVAS_SIZE = 96
DETECTOR_STRIDE = 4
# A detection scoring below this (heatmap peak x class probability) is not reported as a digit.
DETECTION_THRESHOLD = 0.3

NUM_CLASSES = 10  # the digits
# The classifier's extra class, after the ten digits: letters, symbols, shapes, scribbles, blobs.
NOT_A_DIGIT = NUM_CLASSES
VALIDATION_SIZE = 5_000
SPLIT_SEED = 0

MNIST_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
