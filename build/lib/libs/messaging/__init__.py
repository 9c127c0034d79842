"""The message edge: typed events, the topology of subjects, the bus Protocol and its adapters."""
