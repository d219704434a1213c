# fs/: the process side of files: fd table (fdtable.py), struct file, pipes.
