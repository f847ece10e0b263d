"""Step specifications. Built-in specs live one per module, listed below."""

# Modules (under specs/) each defining one built-in StepSpecification;
# specs.registry.default_registry() registers all of them.
BUILTIN_SPEC_MODULES: tuple[str, ...] = (
    "pytorch_training",
    "xgboost_training",
    "tabular_preprocessing",
    "model_evaluation",
    "create_model",
    "register_model",
    "pytorch_transform",  # batch transform of the served model (#15)
    "pytorch_tuning",  # hyperparameter tuning of the PyTorch trainer (#16)
)
