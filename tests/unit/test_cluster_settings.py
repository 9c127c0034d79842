"""Settings for a cluster: external servers named by any URL their clients take."""

from __future__ import annotations

from pathlib import Path

from deploy.servers import placeholder_values
from libs.settings import Settings

SRV = "mongodb+srv://cliptrail:secret@cluster0.example.mongodb.net/?retryWrites=true"
REPLICA_SET = "mongodb://db-0.example:27017,db-1.example:27017,db-2.example:27017/?replicaSet=rs0"


def test_external_servers_take_srv_replica_set_and_nats_cluster_urls(tmp_path: Path) -> None:
    for uri in (SRV, REPLICA_SET):
        settings = Settings(
            _env_file=None,
            embedded=False,
            mongodb_uri=uri,
            nats_url="nats://a.example:4222,nats://b.example:4222",
            data_dir=tmp_path,
        )
        values = placeholder_values(settings)  # no lookup: the names are example ones
        assert values["mongodb_uri"] == uri
        assert values["mongo_host"] == values["nats_host"] == ""


def test_embedded_servers_still_need_a_host_and_a_port(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, mongodb_uri="mongodb://127.0.0.1:27999", data_dir=tmp_path)
    assert placeholder_values(settings)["mongo_port"] == "27999"
