"""gluenet for Apache Airflow: GluenetJobOperator, GluenetRunTrigger, GluenetHook.

gluenet (a Go binary, shipped inside this package's platform wheels) runs an
AWS Glue job in the subnet that can hold it: it ranks the job's Glue network
connections before each run and retry. This package is an Airflow provider
(entry point ``apache_airflow_provider``).
"""

from __future__ import annotations

__version__ = "0.1.0"


def get_provider_info() -> dict:
    """Provider metadata read by Airflow's ProvidersManager."""
    return {
        "package-name": "gluenet-airflow",
        "name": "gluenet",
        "description": "Run AWS Glue jobs in the subnet that can hold them, with gluenet.",
        "versions": [__version__],
        "hooks": [
            {"integration-name": "gluenet", "python-modules": ["gluenet_airflow.hooks"]},
        ],
        "operators": [
            {"integration-name": "gluenet", "python-modules": ["gluenet_airflow.operators"]},
        ],
        "triggers": [
            {"integration-name": "gluenet", "python-modules": ["gluenet_airflow.triggers"]},
        ],
        "integrations": [
            {
                "integration-name": "gluenet",
                "external-doc-url": "https://github.com/gluenet/gluenet",
                "tags": ["aws"],
            }
        ],
    }
