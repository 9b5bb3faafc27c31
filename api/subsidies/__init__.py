"""我的补贴: setMyIdNumber, clearMyIdNumber and mySubsidies."""
