def main() -> None:
    print("emergence-tui")
