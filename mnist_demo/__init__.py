"""Draw a digit, watch three small PyTorch models read it: classifier, U-Net and detector."""

from mnist_demo.inference import Predictor, load_predictor
from mnist_demo.prediction import Prediction
from mnist_demo.preprocessing import InputError

__all__ = ["InputError", "Prediction", "Predictor", "load_predictor"]
