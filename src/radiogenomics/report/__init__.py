"""The sweep report: the HTML page, its sections and captions, the model card, templates."""
