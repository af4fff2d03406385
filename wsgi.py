from maiascore import create_app

app = create_app()
