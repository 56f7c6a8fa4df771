include function.zip.mk
