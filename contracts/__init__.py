"""Script contracts. Built-in contracts live one per module, listed below."""

# Modules (under contracts/) each defining one built-in ScriptContract.
BUILTIN_CONTRACT_MODULES: tuple[str, ...] = (
    "pytorch_train",
    "xgboost_train",
    "tabular_preprocess",
    "model_evaluation",
    "pytorch_inference",
)
