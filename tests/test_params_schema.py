"""SpikingParams and the model-file schema are one declaration: they cannot disagree."""

import dataclasses
import sys

import pytest

from spikefa import experiments
from spikefa.config import Field, load_model
from spikefa.errors import ConfigError
from spikefa.experiments.compare import SCHEMA as COMPARE_SCHEMA
from spikefa.experiments.spiking import SCHEMA, network_params
from spikefa.spiking import NETWORK_SCHEMA, SpikingParams
from spikefa.spiking.params import LEGACY_NAMES, model_key, param_field

SMALL = dict(sizes=[20, 16, 10], units_per_class=2, backend="numpy")


def at(schema, dotted):
    node = schema
    for part in dotted.split("."):
        node = node[part]
    return node


def test_every_field_is_in_the_model_schema_with_its_default_and_range():
    for f in dataclasses.fields(SpikingParams):
        spec = at(SCHEMA, model_key(f.name))
        assert isinstance(spec, Field) and spec is f.metadata["field"] is param_field(f.name), f.name
        default = list(f.default) if isinstance(f.default, tuple) else f.default
        assert spec.default == default, f.name
    # the [network] table holds exactly the fields written there, in their order
    assert list(SCHEMA["network"]) == [f.name for f in dataclasses.fields(SpikingParams)
                                       if f.metadata["table"] == "network"]
    assert SCHEMA["network"] == NETWORK_SCHEMA
    assert all(COMPARE_SCHEMA["network"][k] is v for k, v in NETWORK_SCHEMA.items() if k != "mode")


def test_defaults_of_a_model_are_the_dataclass_defaults():
    model = load_model(text='experiment = "spiking"\n[network]\nsizes = [784, 1500, 1500, 1500, 1000]\n')
    assert network_params(model.params) == SpikingParams()


@pytest.mark.parametrize("name", [f.name for f in dataclasses.fields(SpikingParams)])
def test_model_file_and_python_refuse_the_same_values(name):
    """For each field, a value outside its range (or of the wrong type) fails both ways."""
    spec = param_field(name)
    bad = ("not a choice" if spec.choices else 7 if spec.kind == "bool" else
           [0] if spec.kind == "list[int]" else -1 if spec.min is not None and spec.min >= 0 else "x")
    with pytest.raises(ConfigError, match=name):
        SpikingParams(**{**SMALL, name: bad})
    with pytest.raises(ConfigError, match=model_key(name).replace(".", r"\.")):
        load_model(text='experiment = "spiking"\n[network]\nsizes = [20, 16, 10]\nunits_per_class = 2\n',
                   overrides=[f"{model_key(name)}={bad!r}".replace("'", '"')])


def test_from_table_refuses_unknown_keys_with_the_key_meant():
    with pytest.raises(ConfigError) as err:
        SpikingParams.from_table({**SMALL, "tua": 0.5})
    msg = str(err.value)
    assert "unknown key 'network.tua'" in msg and "did you mean 'network.tau'" in msg and "\n" not in msg
    with pytest.raises(ConfigError, match=r"did you mean 'train\.steps_per_image'"):
        SpikingParams.from_table({**SMALL, "steps_per_image": 3})   # a [train] key in [network]
    p = SpikingParams.from_table(SMALL, steps_per_image=3, seed=4)
    assert (p.steps_per_image, p.seed, p.tau) == (3, 4, 0.9)


def test_one_name_per_parameter_and_older_checkpoints_still_read():
    names = {f.name for f in dataclasses.fields(SpikingParams)}
    assert not names & set(LEGACY_NAMES)
    p = SpikingParams.from_stored({**SMALL, "steps_train": 3, "steps_test": 4})
    assert (p.steps_per_image, p.test_steps) == (3, 4)


def test_config_imports_no_experiment_and_takes_the_catalogue_from_its_caller():
    import spikefa.config as config

    assert "experiments" not in config.__dict__ and "spikefa.experiments" in sys.modules
    text = 'experiment = "spiking"\n[network]\nsizes = [20, 16, 10]\nunits_per_class = 2\n'
    assert load_model(text=text, catalogue=experiments).params == load_model(text=text).params

    class Only:
        def names(self):
            return ["only"]

        def schema(self, name):
            return {"seed": Field(0, "int"), "x": Field(1.0, "float", min=0)}

        def check(self, name):
            return None

    assert load_model(text='experiment = "only"\nx = 2.5\n', catalogue=Only()).params == {"seed": 0, "x": 2.5}
    with pytest.raises(ConfigError, match="did you mean 'only'"):
        load_model(text='experiment = "onyl"\n', catalogue=Only())
