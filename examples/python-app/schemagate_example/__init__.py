"""The Network/Data/App example of schemagate, written with schemagate-cdk in Python."""
