"""The pages, one module per area: rep workspace, customer page, manager console."""
