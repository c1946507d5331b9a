"""The paper's model zoo: one parameterized definition per family, dense / X / G by one switch.

>>> from xnet.models import create
>>> model = create("X-DenseNet-BC-40-24-2", num_classes=100, seed=1)                   # as the authors trained it
>>> paper = create("X-DenseNet-BC-40-24-2", num_classes=100, seed=1, variant="paper")  # as the text describes it
"""

from ..names import VARIANTS
from .alexnet import AlexNet
from .densenet import DenseNetBCCifar, DenseNetBCImageNet
from .mobilenet import MobileNetV1
from .registry import FAMILIES, NAME_FORMS, ModelSpec, create, list_models, resolve
from .resnet import ResNet
from .vgg import VGGCifar
from .zoo import PUBLISHED, PublishedModel

__all__ = [
    "create",
    "resolve",
    "list_models",
    "ModelSpec",
    "FAMILIES",
    "PUBLISHED",
    "PublishedModel",
    "NAME_FORMS",
    "VARIANTS",
    "VGGCifar",
    "AlexNet",
    "ResNet",
    "DenseNetBCCifar",
    "DenseNetBCImageNet",
    "MobileNetV1",
]
