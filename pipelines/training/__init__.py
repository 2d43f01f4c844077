"""What the component scripts share: chat tokenization, model loading (LoRA / QLoRA), the training
loop, generation for evaluation, and the tiny model used to run it all on a CPU. torch,
transformers and peft are imported here; nothing on the Function App's request path imports this."""
