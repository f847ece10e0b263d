"""Building blocks of xgboost_train.py: hyperparameters, channel reading, features,
per-round checkpoints and the training monitor. Only numpy, pandas, scikit-learn and
xgboost: what the SageMaker XGBoost image brings."""
