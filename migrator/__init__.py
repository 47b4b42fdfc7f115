"""migrator: declarative, YAML-driven data migrations for Salesforce."""

__version__ = "0.1.0"
