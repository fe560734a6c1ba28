"""Diagnostics: feature importances, SHAP values and imbalance reports."""
