"""ray_cluster.yaml is a working cluster-launcher config: Ray's own schema accepts it."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

CONFIG = Path(__file__).resolve().parents[1] / "ray_cluster.yaml"


def test_cluster_config_passes_rays_schema() -> None:
    from ray.autoscaler._private.util import prepare_config, validate_config

    config = prepare_config(yaml.safe_load(CONFIG.read_text()))
    validate_config(config)  # raises on any key or value the launcher would refuse
    workers = config["available_node_types"]["gpu_worker"]
    assert workers["resources"]["GPU"] == 1  # one trial per GPU
    assert config["head_node_type"] == "head" and config["file_mounts"]


def test_schema_check_is_real() -> None:
    from ray.autoscaler._private.util import prepare_config, validate_config

    config = yaml.safe_load(CONFIG.read_text())
    config["available_node_types"]["gpu_worker"]["gpus_please"] = 1
    with pytest.raises(Exception, match="gpus_please"):
        validate_config(prepare_config(config))
